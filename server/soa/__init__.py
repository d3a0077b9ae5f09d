"""The Statement of Applicability over the ISO/IEC 42001 Annex A controls."""
