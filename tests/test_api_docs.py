"""Every public function of ``earmark.api`` documents every parameter, in signature order (numpydoc's validation), and
a parameter documented nowhere is refused when the module is imported."""

import inspect

import pytest
from numpydoc.validate import validate

import earmark.api as api
from earmark.api._params import documented


def _functions():
    return [name for name in api.__all__ if callable(getattr(api, name)) and not inspect.isclass(getattr(api, name))]


@pytest.mark.parametrize("name", _functions())
def test_every_parameter_is_documented_in_order(name):
    obj = getattr(api, name)
    errors = [(code, text) for code, text in validate(f"{obj.__module__}.{obj.__qualname__}")["errors"]
              if code in ("PR01", "PR02", "PR03", "PR07", "GL08")]
    assert errors == []


def test_a_new_parameter_cannot_go_undocumented():
    def run(data, *, frobnicate: int = 1):
        """Run it.

        Returns
        -------
        None
        """

    with pytest.raises(TypeError, match="'frobnicate' is documented nowhere"):
        documented()(run)
    done = documented(frobnicate=("int", "How hard."))(run)
    assert done.__doc__.index("data : str or Path") < done.__doc__.index("frobnicate : int") < done.__doc__.index("Returns")
