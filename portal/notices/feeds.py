from django.contrib.syndication.views import Feed
from django.urls import reverse, reverse_lazy
from django.utils.feedgenerator import Atom1Feed

from portal.notices.selectors import published_notices


class NoticeFeed(Feed):
    feed_type = Atom1Feed
    title = "Steady handover notices"
    link = reverse_lazy("notices:list")
    subtitle = "Open-source projects in a handover gap: scrutinise commits and releases made in the window."

    def items(self):
        return published_notices()[:50]

    def item_title(self, item):
        return f"{item.reference}: {item.project_name} is in a handover window"

    def item_description(self, item):
        end = item.window_end.isoformat() if item.window_end else "open"
        return (
            f"{item.project_name} ({item.get_ecosystem_display()}) from {item.window_start.isoformat()} to {end}. "
            f"Interim steward: {item.steward_name} ({item.steward_handle}). {item.guidance}"
        )

    def item_link(self, item):
        return reverse("notices:detail", args=[item.reference])

    def item_guid(self, item):
        return f"urn:uuid:{item.public_id}"

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item.published_at

    def item_updateddate(self, item):
        return item.published_at
