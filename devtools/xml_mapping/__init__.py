"""Demo data, generators and corpus loaders for the xml_mapping family (not deployed)."""
