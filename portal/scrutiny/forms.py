from django import forms

from portal.scrutiny.components import KINDS

KIND_LABELS = {
    "cyclonedx": "CycloneDX JSON SBOM",
    "spdx": "SPDX JSON document",
    "requirements": "requirements.txt",
    "pylock": "pip lock (pylock.toml)",
    "npm": "npm package-lock.json",
    "purls": "List of package URLs, one a line",
}


class CheckForm(forms.Form):
    document = forms.FileField(
        required=False,
        label="Upload a file",
        help_text="Up to 10 MB and 50,000 components.",
    )
    text = forms.CharField(
        required=False,
        label="…or paste the document",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        strip=False,
    )
    kind = forms.ChoiceField(
        required=False,
        label="Kind of document",
        choices=[("", "Detect it for me")] + [(k, KIND_LABELS[k]) for k in KINDS],
    )

    def clean(self):
        cleaned = super().clean()
        upload, text = cleaned.get("document"), cleaned.get("text") or ""
        if upload and text.strip():
            raise forms.ValidationError("Upload a file or paste a document, not both.")
        if not upload and not text.strip():
            raise forms.ValidationError("Upload a file or paste a document to check.")
        return cleaned

    def document_bytes(self) -> bytes:
        upload = self.cleaned_data.get("document")
        if upload:
            return upload.read()
        return self.cleaned_data["text"].encode("utf-8")
