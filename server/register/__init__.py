"""The AI register: governed entries, their fields and vocabularies, decisions and lifecycle."""
