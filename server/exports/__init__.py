"""Files to download: the inventory and the register as JSON, CSV and CycloneDX, and the
ISO/IEC 42001 evidence pack."""
