"""One factory per model, valid by default. Factories never grant permissions: fixtures that need
access call the real services (see conftest.py)."""

import datetime
import uuid

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from cases.models import Case, Category, Urgency
from portal.accounts.models import User
from portal.notices.models import Subscription
from portal.projects.models import Ecosystem, Maintainership, Project

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    display_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.create(
                user=self, email=self.email, verified=True, primary=True
            )
        if create:
            self.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"project-{n}")
    ecosystem = Ecosystem.PYPI
    repository_url = factory.LazyAttribute(
        lambda o: f"https://github.com/example/{o.name}"
    )
    purls = factory.LazyAttribute(lambda o: [f"pkg:pypi/{o.name}"])


class MaintainershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Maintainership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)


class CaseFactory(factory.django.DjangoModelFactory):
    """A bare case row with no permissions: use `cases.services.open_case` when access matters."""

    class Meta:
        model = Case
        skip_postgeneration_save = True

    public_id = factory.LazyFunction(uuid.uuid4)
    project = factory.SubFactory(ProjectFactory)
    opened_by = factory.SubFactory(UserFactory)
    category = Category.BURNOUT
    urgency = Urgency.NORMAL
    help_wanted = factory.LazyFunction(lambda: ["talk"])
    first_response_due_at = factory.LazyFunction(
        lambda: timezone.now() + datetime.timedelta(hours=72)
    )

    @factory.post_generation
    def narrative(self, create, extracted, **kwargs):
        """Seal a narrative under a fresh data key of the case's own, as open_case does."""
        from cases import crypto

        crypto.issue_data_key(self)
        self.narrative_sealed = crypto.seal_text(
            self, "narrative", "", extracted or "A bare test case."
        )
        if create:
            self.save(update_fields=["wrapped_key", "key_version", "narrative_sealed"])


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    public_id = factory.LazyFunction(uuid.uuid4)
    email = factory.Sequence(lambda n: f"subscriber{n}@example.net")
    status = Subscription.Status.ACTIVE


# --- Roster ----------------------------------------------------------------------------------


def ssh_public_key_line(comment: str = "steward@example.org") -> str:
    """A fresh, valid Ed25519 OpenSSH public key line."""
    # Imported here so the roster's additions stay at the end of this shared file.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    line = public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    return f"{line} {comment}"


def _fingerprint(public_key: str) -> str:
    from portal.lib.keys import parse_public_key

    return parse_public_key(public_key).fingerprint


class StewardProfileFactory(factory.django.DjangoModelFactory):
    """An application, not yet vetted. Vet through `portal.roster.services.vet_steward`, or use
    `VettedStewardFactory` for a steward vetted long ago (a voucher)."""

    class Meta:
        model = "roster.StewardProfile"

    public_id = factory.LazyFunction(uuid.uuid4)
    user = factory.SubFactory(UserFactory)
    handle = factory.Sequence(lambda n: f"steward-{n}")
    forge_accounts = factory.LazyAttribute(lambda o: [f"github:{o.handle}"])
    ecosystems = factory.LazyFunction(lambda: [Ecosystem.PYPI])
    languages = factory.LazyFunction(lambda: ["English"])
    skills = factory.LazyFunction(lambda: ["python", "release engineering"])
    time_zone = "Europe/Berlin"
    hours_per_week = 8
    max_assignments = 2
    statement = "I have maintained packaging tools for ten years."


class VettedStewardFactory(StewardProfileFactory):
    """A steward vetted 200 days ago, valid for 165 more days: old enough to vouch."""

    status = "vetted"
    vetted_at = factory.LazyFunction(
        lambda: timezone.now() - datetime.timedelta(days=200)
    )
    vetting_expires_at = factory.LazyAttribute(
        lambda o: o.vetted_at + datetime.timedelta(days=365)
    )


class SigningKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "roster.SigningKey"

    steward = factory.SubFactory(StewardProfileFactory)
    kind = "ssh"
    algorithm = "Ed25519"
    public_key = factory.LazyFunction(ssh_public_key_line)
    fingerprint = factory.LazyAttribute(lambda o: _fingerprint(o.public_key))


class IdentityCheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "roster.IdentityCheck"

    steward = factory.SubFactory(StewardProfileFactory)
    method = "video-document"
    checked_on = factory.LazyFunction(timezone.localdate)
    recorded_by = factory.SubFactory(UserFactory)


class VouchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "roster.Vouch"

    voucher = factory.SubFactory(VettedStewardFactory)
    vouchee = factory.SubFactory(StewardProfileFactory)
    statement = "We maintained a parser together for three years."


class ProjectInvolvementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "roster.ProjectInvolvement"

    steward = factory.SubFactory(VettedStewardFactory)
    project = factory.SubFactory(ProjectFactory)
