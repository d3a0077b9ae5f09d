"""Build the catalogue's imported part from pinned public sources: ``shadowmap signatures import``.

Snapshots of public lists (``catalogue/snapshots/*.tsv``, facts only, each with its source,
path, commit and licence) are read by one importer per source (:mod:`.sources`) into claims;
:mod:`.build` reviews them against the hand-written catalogue and ``catalogue/overrides.yaml``
and writes ``signatures/data/imported/*.yaml``, the provenance map and the attribution list.
"""

from server.catalogue_import.build import ImportResult, Layout, run_import
from server.catalogue_import.model import Snapshot, read_snapshot

__all__ = ["ImportResult", "Layout", "Snapshot", "read_snapshot", "run_import"]
