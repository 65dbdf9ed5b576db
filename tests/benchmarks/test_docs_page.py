"""Benchmark results written into a docs page and figures written into docs/img."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import docs_page
import pytest

PAGE = """# Benchmarks

Prose the benchmark must keep.

<!-- bench:one:start -->
old table
<!-- bench:one:end -->

Between the blocks.

<!-- bench:two:start -->
other table
<!-- bench:two:end -->
"""


def test_a_section_is_rewritten_between_its_markers_and_the_rest_of_the_page_is_kept(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    docs_page.write_section("one", "| new | table |\n\n![a figure](img/one.svg)\n", page)
    assert page.read_text() == PAGE.replace("old table", "| new | table |\n\n![a figure](img/one.svg)")


def test_a_page_without_the_sections_markers_is_refused_and_left_as_it_was(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    with pytest.raises(SystemExit, match="bench:three:start"):
        docs_page.write_section("three", "table", page)
    assert page.read_text() == PAGE


def draw(name: str) -> str:
    fig, ax = docs_page.figure()
    ax.plot([1, 10, 100], [3.0, 2.0, 1.0], marker="o", label="a series")
    ax.set_title("A title")
    ax.legend()
    return docs_page.save_figure(fig, name, "python benchmarks/example.py --write-docs")


def test_the_same_numbers_give_a_byte_identical_svg(img):
    draw("first")
    draw("second")
    assert (img / "first.svg").read_bytes() == (img / "second.svg").read_bytes()


def test_a_figure_is_svg_with_its_text_as_text_no_date_and_the_command_that_wrote_it(img):
    embed = draw("figure")
    text = (img / "figure.svg").read_text()
    ET.fromstring(text.encode())  # well-formed XML
    assert embed == "![A title](img/figure.svg)"
    assert ">A title</text>" in text
    assert "python benchmarks/example.py --write-docs" in text
    assert "<dc:date>" not in text and "Matplotlib v" not in text


def test_every_figure_a_docs_page_embeds_is_in_docs_img_and_every_figure_there_is_embedded():
    # The docs build does not check images: a figure renamed or left behind would go unnoticed.
    embedded = {m for page in docs_page.DOCS.rglob("*.md") for m in re.findall(r"\]\(img/([^)]+)\)", page.read_text())}
    on_disk = {p.name for p in docs_page.IMG.glob("*.svg")}
    assert embedded == on_disk


def test_a_printed_run_draws_no_figure_and_leaves_the_page_alone(tmp_path, img, capsys):
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    docs_page.publish("| a | table |", "one", False, page, figure=lambda: draw("unwanted"))
    assert capsys.readouterr().out == "| a | table |\n"
    assert page.read_text() == PAGE and not img.exists()


def test_a_run_that_writes_the_docs_puts_its_figure_above_its_table(tmp_path, img):
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    docs_page.publish("| a | table |", "two", True, page, figure=lambda: draw("two"))
    block = "<!-- bench:two:start -->\n![A title](img/two.svg)\n\n| a | table |\n<!-- bench:two:end -->"
    assert block in page.read_text()
    assert (img / "two.svg").exists()
