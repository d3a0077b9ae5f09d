"""The AIMS scope statement (ISO/IEC 42001 clause 4.3) and how much discovered AI it leaves out."""
