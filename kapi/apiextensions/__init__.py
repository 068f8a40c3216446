"""Serving CustomResourceDefinitions: the API server's own controller that turns each
stored definition into served resources, as upstream's apiextensions-apiserver does.

`CRDController` watches customresourcedefinitions in the watch cache. For each definition
it builds a CustomStrategy (kapi.registry.kinds.custom), publishes its OpenAPI
definitions, serves its rows in the shared Scheme (so routing, discovery and OpenAPI see
it at once), and records status: acceptedNames, the NamesAccepted and Established
conditions. A definition being deleted has its objects deleted first (the
customresourcecleanup finalizer), then stops being served. On start it serves every
stored definition before the server takes requests.

It never touches HTTP; it writes only through the Store, like any controller.
"""

from kapi.apiextensions.controller import CRDController

__all__ = ["CRDController"]
