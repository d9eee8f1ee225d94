"""A page whose large parts are encoded apart: the same bytes as the whole page encoded at once."""

from hypothesis import given
from hypothesis import strategies as st

from annotator.review.pieces import Pieces

TEXT = st.text(alphabet=st.sampled_from("ab<&\"' \n·é🇧🇾\x00:0123456789"), max_size=40)


@given(st.lists(st.tuples(TEXT, st.lists(TEXT, max_size=4)), max_size=6), TEXT)
def test_each_marker_gives_way_to_its_part_and_the_bytes_are_the_whole_page_s(chunks, last):
    pieces = Pieces()
    page = "".join(f"{before}{pieces.part(part)}" for before, part in chunks) + last
    whole = "".join(before + "".join(part) for before, part in chunks) + last
    assert pieces.encode(page) == whole.encode()


def test_a_marker_is_a_marker_only_with_this_process_s_token():
    pieces = Pieces()
    marker = pieces.part(["<p>the part</p>"])
    forged = "\x00" + "0" * 16 + ":0\x00"  # what a user could type cannot name a part
    assert pieces.encode(f"<h1>·</h1>{marker}{forged}") == f"<h1>·</h1><p>the part</p>{forged}".encode()
