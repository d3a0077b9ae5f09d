"""Agent packages IT deploys: `shadowmap package` builds them with the settings baked in."""
