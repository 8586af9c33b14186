"""The floor's footer keeps its key widgets while the keys it shows stay the same, and
rebuilds them when they change."""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from console.app import BackroomApp
from console.wiring import Services
from services.models import TileStatus
from tests.tui.helpers import floor_loaded, until
from widgets.footer import Footer


async def test_moving_between_tables_with_the_same_keys_rebuilds_nothing(services: Services) -> None:
    async with BackroomApp(services).run_test(size=(160, 48)) as pilot:
        screen = await floor_loaded(pilot)
        tiles = [t for plan in screen.plans for t in plan.tiles.values() if t.state is not None]
        free = [t for t in tiles if t.state is not None and t.state.status is TileStatus.FREE]
        other = next(t for t in tiles if t.state is not None and t.state.status is TileStatus.CONFIRMED)
        assert len(free) >= 2
        footer = screen.query_one(Footer)

        async def select(tile: object) -> None:
            tile.focus()  # type: ignore[attr-defined]
            await until(
                pilot,
                lambda: screen.selected == tile.table_id,  # type: ignore[attr-defined]
                what="selected",
            )
            await pilot.pause()
            await pilot.pause()

        await select(free[0])
        keys = list(footer.query(FooterKey))
        built = footer.rebuilds
        await select(free[1])
        assert footer.rebuilds == built and list(footer.query(FooterKey)) == keys, (
            "the same keys: the same widgets"
        )
        await select(other)
        assert footer.rebuilds == built + 1
        words = [k.description for k in footer.query(FooterKey)]
        assert "Check in" in words, words
        await select(free[0])
        assert footer.rebuilds == built + 2
        assert [k.description for k in footer.query(FooterKey)] == [k.description for k in keys]
