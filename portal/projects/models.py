import uuid

from django.conf import settings
from django.db import models


class Ecosystem(models.TextChoices):
    PYPI = "pypi", "PyPI"
    NPM = "npm", "npm"
    CARGO = "cargo", "crates.io"
    MAVEN = "maven", "Maven"
    GOLANG = "golang", "Go"
    GEM = "gem", "RubyGems"
    NUGET = "nuget", "NuGet"
    COMPOSER = "composer", "Packagist"
    DEBIAN = "deb", "Debian"
    RPM = "rpm", "RPM"
    GITHUB = "github", "GitHub"
    GENERIC = "generic", "Other"


class Project(models.Model):
    """An open-source project a maintainer looks after. Public facts only."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    ecosystem = models.CharField(max_length=16, choices=Ecosystem.choices)
    repository_url = models.URLField(max_length=300)
    purls = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    maintainers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Maintainership", related_name="projects"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["ecosystem", "name"], name="project_unique_per_ecosystem"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_ecosystem_display()})"


class Maintainership(models.Model):
    """A person claims to maintain a project; the foundation verifies the claim."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="maintainerships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="maintainerships",
    )
    is_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "user"], name="maintainership_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} maintains {self.project}"
