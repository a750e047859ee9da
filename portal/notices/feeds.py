"""Atom feeds: every notice, one ecosystem, one project. One entry per notice, whose id stays the
same across revisions; `updated` moves with each revision."""

import json

from django.contrib.syndication.views import Feed
from django.http import Http404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from portal.notices.selectors import filter_notices, published_notices
from portal.projects.models import Ecosystem

FEED_SIZE = 50


class NoticeFeed(Feed):
    feed_type = Atom1Feed
    title = "Steady handover notices"
    subtitle = "Open-source projects in a handover gap: scrutinise commits and releases made in the window."

    def link(self):
        return reverse("notices:list")

    def feed_url(self, obj=None):
        return self._feed_path(obj)

    def _feed_path(self, obj):
        return reverse("notices:feed")

    def notices(self, obj):
        return published_notices().defer("latest_revision__content")

    def items(self, obj=None):
        return list(self.notices(obj)[:FEED_SIZE])

    def _doc(self, item) -> dict:
        return json.loads(bytes(item.latest_revision.document))

    def item_title(self, item):
        status = {
            "active": "is in a handover window",
            "ended": "handover window ended",
            "withdrawn": "notice withdrawn",
        }[item.status]
        return f"{item.reference}: {item.project_name} {status}"

    def item_description(self, item):
        doc = self._doc(item)
        end = doc["window"]["end"] or "open"
        stewards = ", ".join(f"{s['name']} ({s['handle']})" for s in doc["stewards"])
        return (
            f"{doc['project']['name']} ({doc['project']['ecosystem']}) from "
            f"{doc['window']['start']} to {end}. Interim stewards: {stewards}. "
            f"Revision {doc['revision']} ({doc['kind']}). {doc['statement']} {doc['guidance']}"
        ).strip()

    def item_link(self, item):
        return reverse("notices:detail", args=[item.reference])

    def item_guid(self, item):
        return f"urn:uuid:{item.public_id}"

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item.published_at

    def item_updateddate(self, item):
        return item.modified_at


class EcosystemFeed(NoticeFeed):
    def get_object(self, request, ecosystem):
        if ecosystem not in Ecosystem.values:
            raise Http404("No such ecosystem.")
        return ecosystem

    def title(self, obj):
        return f"Steady handover notices: {Ecosystem(obj).label}"

    def _feed_path(self, obj):
        return reverse("notices:feed_ecosystem", args=[obj])

    def notices(self, obj):
        return filter_notices(super().notices(obj), ecosystem=obj)


class ProjectFeed(NoticeFeed):
    def get_object(self, request, project):
        if len(project) > 120 or not project.isprintable():
            raise Http404("No such project.")
        return project

    def title(self, obj):
        return f"Steady handover notices: {obj}"

    def _feed_path(self, obj):
        return reverse("notices:feed_project", args=[obj])

    def notices(self, obj):
        return filter_notices(super().notices(obj), project=obj)
