"""Impact assessments, DPIA screenings and route reviews linked to register entries."""
