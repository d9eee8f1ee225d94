import pytest

from annotator.core.binding import local_url


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000/"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000/"),
        (":8080", "http://127.0.0.1:8080/"),
        ("[::]:8000", "http://127.0.0.1:8000/"),
        ("[::1]:8001", "http://[::1]:8001/"),
        ("annotator.example.org:80", "http://annotator.example.org:80/"),
        ("unix:/run/annotator.sock", None),
        ("localhost", None),
    ],
)
def test_the_url_a_person_on_this_machine_opens_for_a_bind(bind, url):
    assert local_url(bind) == url
