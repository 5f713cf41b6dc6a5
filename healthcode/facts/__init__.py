"""Facts about holders: tests, vaccinations, declarations, contact lists, quarantine orders."""
