"""The charts drawn on the server: numbers in, the right marks with their numbers out, no data
told as such, every text escaped; and the figures they are drawn from (buckets, percentiles)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from pizzeria.web import charts, house

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def marks(svg: ET.Element, tag: str, kind: str) -> list[ET.Element]:
    return [element for element in svg.iter(f"{SVG}{tag}") if element.get("class") == kind]


def test_columns_have_one_bar_per_bucket_with_its_count_and_the_sum_as_total():
    svg = parsed(charts.columns("handled", [0, 3, 10, 2], 10.0, "messages handled", "#00f"))
    bars = marks(svg, "rect", "bar")
    assert [int(bar.get("data-count")) for bar in bars] == [0, 3, 10, 2]
    assert svg.get("data-total") == "15"
    assert (svg.get("id"), svg.get("role")) == ("handled", "img")
    assert svg.get("aria-label") == "messages handled: 15 in the last 40 s"


def test_a_columns_height_is_its_rate_on_an_axis_in_messages_per_second():
    svg = parsed(charts.columns("handled", [10, 5], 10.0, "handled", "#00f"))
    tallest, half = (float(bar.get("height")) for bar in marks(svg, "rect", "bar"))
    assert half == tallest / 2
    labels = [text.text for text in svg.iter(f"{SVG}text")]
    assert {"0/s", "0.5/s", "1/s"} <= set(labels)
    assert "10 to 0 s ago: 5 (0.5/s)" in [title.text for title in svg.iter(f"{SVG}title")]


def test_columns_of_a_window_are_labelled_by_the_minutes_ago_and_now():
    svg = parsed(charts.columns("handled", [1] * 30, 10.0, "handled", "#00f"))
    labels = [text.text for text in svg.iter(f"{SVG}text")]
    assert labels[-6:] == ["−5 min", "−4 min", "−3 min", "−2 min", "−1 min", "now"]
    assert svg.get("aria-label") == "handled: 30 in the last 5 minutes"


def test_columns_with_nothing_counted_have_empty_bars_and_a_total_of_zero():
    svg = parsed(charts.columns("failed", [0] * 30, 10.0, "failures", "#f00"))
    assert {bar.get("height") for bar in marks(svg, "rect", "bar")} == {"0.0"}
    assert svg.get("data-total") == "0"


def test_bars_carry_each_name_and_value_in_the_order_given():
    svg = parsed(charts.bars("stages", {"baking": 2, "finished": 7}, "visits", "#0f0"))
    bars = marks(svg, "rect", "bar")
    assert [(bar.get("data-name"), bar.get("data-value")) for bar in bars] == [("baking", "2"), ("finished", "7")]
    assert float(bars[0].get("width")) < float(bars[1].get("width"))
    assert svg.get("aria-label") == "visits: baking 2, finished 7"


def test_bars_with_a_unit_show_it_after_each_number():
    svg = parsed(charts.bars("rates", {"kitchen": 0.25}, "rate", "#00f", "/s"))
    assert "kitchen: 0.25/s" in [title.text for title in svg.iter(f"{SVG}title")]


def test_charts_with_no_data_say_so():
    for svg in (parsed(charts.bars("queues", {}, "waiting", "#00f")), parsed(charts.ranges("times", {}, "time"))):
        assert marks(svg, "rect", "bar") == [] and marks(svg, "g", "range") == []
        assert "nothing" in "".join(svg.itertext())


def test_ranges_carry_the_percentiles_in_milliseconds_and_place_them_in_order():
    svg = parsed(charts.ranges("times", {"kitchen": {"p50": 0.002, "p95": 0.008, "p99": 0.0125}}, "time"))
    (row,) = marks(svg, "g", "range")
    assert (row.get("data-name"), row.get("data-p50"), row.get("data-p95"), row.get("data-p99")) == (
        "kitchen", "2.00", "8.00", "12.50")
    dots = [float(dot.get("cx")) for dot in row.iter(f"{SVG}circle")]
    assert dots == sorted(dots)
    assert "20 ms" in [text.text for text in svg.iter(f"{SVG}text")]


def test_every_name_is_escaped():
    svg = str(charts.bars("evil", {"<script>x</script>": 1}, "a & b", "#000"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert parsed(svg).get("aria-label") == "a & b: <script>x</script> 1"


def test_moments_are_counted_in_their_bucket_and_those_outside_the_window_left_out():
    counts = house.buckets([1000.0, 1009.9, 1010.0, 1299.9, 999.9, 1300.0], start=1000.0)
    assert len(counts) == 30
    assert (counts[0], counts[1], counts[-1], sum(counts)) == (2, 1, 1, 4)


def test_percentiles_are_by_nearest_rank_per_endpoint():
    handled = [("kitchen", seconds / 1000) for seconds in range(1, 101)] + [("menu", -0.001)]
    assert house.by_endpoint(handled) == {"kitchen": {"p50": 0.05, "p95": 0.095, "p99": 0.099},
                                          "menu": {"p50": 0.0, "p95": 0.0, "p99": 0.0}}
    assert house.percentile([0.3], 99) == 0.3


def test_stages_come_in_the_order_a_visit_goes_through_them():
    assert list(house.in_order({"finished": 3, "someday": 1, "baking": 1, "awaiting_menu": 2})) == [
        "awaiting_menu", "baking", "finished", "someday"]
