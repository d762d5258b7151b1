"""A station with a local data folder, for the thumbnail tests."""
import pytest

from tests.conftest import add_deployment, grant_data_root


@pytest.fixture
def station(app, project, tmp_path):
    folder = tmp_path / "data" / "station"
    folder.mkdir(parents=True)
    grant_data_root(project)
    return add_deployment(project, "Meadow", data_source=str(folder))
