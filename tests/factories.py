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
