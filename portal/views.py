from django.shortcuts import render

from portal.notices.selectors import published_notices


def home(request):
    return render(request, "home.html", {"recent_notices": published_notices()[:5]})
