"""The domain's refusals carry no HTTP status; app.api.errors maps each kind once."""

import importlib
import pkgutil

import geo
from app.api.errors import DOMAIN_STATUS, domain_status
from geo.access import OutsideTerritory
from geo.errors import Conflict, Denied, DomainError, Invalid, NotFound
from geo.ingest.errors import LoaderError
from geo.ledger.geometry import GeometryError
from geo.ledger.write import EnvelopeExhausted
from geo.scoring.profiles import ProfileError
from geo.zan.rulesets import RuleSetError


def test_each_kind_has_one_status():
    assert {Invalid: 422, NotFound: 404, Conflict: 409, Denied: 403} == DOMAIN_STATUS


def test_a_narrower_error_answers_as_its_kind():
    assert domain_status(EnvelopeExhausted("x")) == 409
    assert domain_status(OutsideTerritory("x")) == 403
    for error in (GeometryError, RuleSetError, ProfileError, LoaderError):
        assert domain_status(error("x")) == 422


def test_no_error_class_in_geo_speaks_http():
    for module in pkgutil.walk_packages(geo.__path__, "geo."):
        loaded = importlib.import_module(module.name)
        for value in vars(loaded).values():
            if isinstance(value, type) and issubclass(value, Exception):
                assert not hasattr(value, "status"), f"{module.name}.{value.__name__}"
                if value.__module__.startswith("geo.") and value.__name__.endswith("Error"):
                    assert issubclass(value, DomainError), value
