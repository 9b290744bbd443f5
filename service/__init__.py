"""The use cases over a store, with no Flask: the instance container that opens the store
(:mod:`service.instance`) and citizens' accounts and logins (:mod:`service.accounts`).

``api/`` and ``cli/`` are two faces over this package and never import each other.
"""
