"""Running the scanner unattended: ``scanner up``."""
