"""Stage app_XML: reduce Provenir documents to ``/Provenir/Request/CustData`` and stage them by app_id remainder."""
