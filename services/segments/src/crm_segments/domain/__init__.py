"""The pure rules of the segments service and its typed documents (documents.py): the query
language (rules/), money in the base currency, profiles built from events, segment definitions,
membership transitions and analytics. No I/O."""
