"""Maps staged Provenir applications into the relational model under a JSON mapping contract."""
