"""Load `fixtures/demo.toml` through the real services, so demo cases get real permissions and audit rows."""

import datetime
import tomllib
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from cases import services as case_services
from portal.accounts.models import User
from portal.accounts.services import create_account, enrol_totp
from portal.notices import services as notice_services
from portal.notices.content import (
    NoticeContent,
    parse_identities,
    parse_releases,
    parse_stewards,
)
from portal.projects.services import register_project
from portal.roster import services as roster_services
from portal.roster.models import StewardProfile

DEMO_FILE = Path(settings.BASE_DIR) / "fixtures" / "demo.toml"


class Command(BaseCommand):
    help = "Load the demo users, projects, cases and notices (once) and print the demo credentials."

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(DEMO_FILE))

    def handle(self, *args, **options):
        data = tomllib.loads(Path(options["file"]).read_text())
        if User.objects.filter(email=data["users"][0]["email"]).exists():
            self.stdout.write("Demo data is already loaded.")
        else:
            with transaction.atomic():
                self._load(data)
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(
            f"\nDemo accounts (demo only, password for all: {data['password']}):"
        )
        for user in data["users"]:
            line = f"  {user['email']:<22} {', '.join(user['roles'])}"
            if "totp_secret" in user:
                line = f"{line:<36} authenticator app secret: {user['totp_secret']}"
            self.stdout.write(line)

    def _load(self, data):
        users = {
            u["key"]: create_account(
                email=u["email"],
                password=data["password"],
                display_name=u["name"],
                role_names=tuple(u["roles"]),
            )
            for u in data["users"]
        }
        for u in data["users"]:
            if "totp_secret" in u:
                enrol_totp(user=users[u["key"]], secret=u["totp_secret"])
        projects = {}
        for p in data["projects"]:
            for key in p["maintainers"]:
                projects[p["key"]] = register_project(
                    actor=users[key],
                    name=p["name"],
                    ecosystem=p["ecosystem"],
                    repository_url=p["repository_url"],
                    purls=p["purls"],
                )
        cases = []
        for c in data["cases"]:
            case = case_services.open_case(
                actor=users[c["opened_by"]],
                project=projects[c["project"]],
                category=c["category"],
                urgency=c["urgency"],
                help_wanted=c["help"],
                narrative=c["narrative"],
            )
            if "assign" in c:
                worker = users[c["assign"]]
                case = case_services.assign_caseworker(
                    case=case, caseworker=worker, actor=worker
                )
                case = case_services.change_status(
                    case=case, actor=worker, to_status=c["status"]
                )
            for m in c.get("messages", []):
                case_services.post_message(
                    case=case, actor=users[m["author"]], body=m["body"]
                )
            cases.append(case)
        self._load_roster(data, users, projects, cases)
        for n in data["notices"]:
            self._load_notice(n, users, cases)

    def _load_notice(self, n, users, cases):
        content = NoticeContent(
            project_name=n["project_name"],
            ecosystem=n["ecosystem"],
            repository_url=n["repository_url"],
            purls=tuple(n["purls"]),
            window_start=n["window_start"],
            window_end=n.get("window_end"),
            scope=tuple(n["scope"]),
            stewards=parse_stewards(n["stewards"]),
            authorized_identities=parse_identities(n.get("authorized_identities", "")),
            release_channels=tuple(n.get("release_channels", ())),
            releases=parse_releases(n.get("releases", "")),
            guidance=n["guidance"],
        )
        handover = case_services.draft_handover(
            case=cases[n["from_case"]], actor=users[n["drafted_by"]], content=content
        )
        revision = handover.notice.revisions.get()
        if "consent_by" in n:
            notice_services.record_consent_unchecked(
                revision=revision, actor=users[n["consent_by"]]
            )
        if "approved_by" in n:
            notice_services.approve_revision(
                revision=revision, actor=users[n["approved_by"]]
            )

    def _load_roster(self, data, users, projects, cases):
        today = timezone.localdate()
        now = timezone.now()
        stewards = {}
        for s in data.get("stewards", []):
            profile = roster_services.apply_as_steward(
                user=users[s["user"]],
                handle=s["handle"],
                forge_accounts=s["forge_accounts"],
                ecosystems=s["ecosystems"],
                languages=s["languages"],
                skills=s["skills"],
                time_zone=s["time_zone"],
                hours_per_week=s["hours_per_week"],
                max_assignments=s["max_assignments"],
                statement=s["statement"],
                public_keys=[s["public_key"]],
            )
            if s.get("founding"):
                # The founding stewards were vetted by the foundation before the portal
                # existed, so no vetted steward could vouch for them here: their vetting is
                # written directly, dated 200 days back so that they may vouch (a voucher must
                # have been vetted for 90 days). Everyone else goes through vet_steward below.
                vetted_at = now - datetime.timedelta(days=200)
                StewardProfile.objects.filter(pk=profile.pk).update(
                    status=StewardProfile.Status.VETTED,
                    vetted_at=vetted_at,
                    vetting_expires_at=vetted_at + datetime.timedelta(days=365),
                )
                profile.refresh_from_db()
            stewards[s["user"]] = profile
        for s in data.get("stewards", []):
            if s.get("founding"):
                continue
            profile = stewards[s["user"]]
            roster_services.record_identity_check(
                steward=profile,
                actor=users[s["identity_checked_by"]],
                method=s["identity_check_method"],
                checked_on=today,
            )
            for voucher in s["vouched_by"]:
                roster_services.record_vouch(
                    voucher=stewards[voucher],
                    vouchee=profile,
                    actor=users[voucher],
                    statement=f"I have worked with {users[s['user']]} and trust them.",
                )
            if "involvement" in s:
                involvement = s["involvement"]
                roster_services.declare_involvement(
                    steward=profile,
                    actor=users[s["user"]],
                    project=projects[involvement["project"]],
                    first_contributed_on=None,
                    first_offered_help_on=today
                    - datetime.timedelta(days=involvement["offered_help_days_ago"]),
                    conflict_of_interest=False,
                )
            stewards[s["user"]] = roster_services.vet_steward(
                steward=profile, actor=users[s["vetted_by"]]
            )
        for r in data.get("steward_requests", []):
            case = cases[r["from_case"]]
            starts_on = today + datetime.timedelta(days=r["starts_in_days"])
            case_services.request_steward(
                case=case,
                actor=case.opened_by,
                scope=r["scope"],
                starts_on=starts_on,
                ends_on=starts_on + datetime.timedelta(days=r["lasts_days"]),
                ecosystem=r["ecosystem"],
                skills=r["skills"],
                hours_per_week=r["hours_per_week"],
                time_zone=r["time_zone"],
                brief=r["brief"],
            )
        for i in data.get("identities_of_concern", []):
            case_services.record_identity_of_concern(
                case=cases[i["case"]],
                actor=users[i["recorded_by"]],
                identity=i["identity"],
                kind=i["kind"],
            )
