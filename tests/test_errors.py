"""User errors keep their type and one-line message across process boundaries."""

import pickle

import pytest
from torch.utils.data import DataLoader, Dataset

from src.utils.errors import ConfigError, DataError


class _BadImages(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        raise DataError("/data/img_3.png", "cannot decode the image (truncated file?)", line=4)


def test_data_error_from_a_worker_keeps_its_type_and_message():
    loader = DataLoader(_BadImages(), num_workers=1)
    with pytest.raises(DataError) as info:
        next(iter(loader))
    assert str(info.value) == "/data/img_3.png:4: cannot decode the image (truncated file?)"
    assert "Traceback" not in str(info.value)


@pytest.mark.parametrize(
    "err", [DataError("a.png", "bad", line=3), DataError("b.png", "worse"), ConfigError("model.depth", "≥ 1")]
)
def test_user_errors_pickle_with_their_fields(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err)
    assert vars(back) == vars(err)
