"""Placeholder: replaced by the storage conformance suite."""


class DiskTemplateConformance:
    pass
