"""The swapscope demo game: three players fight monsters at about 10 ticks a second.

Run it with `cargo run --release` (inside swapscope), then edit balance.py and reload: the next
combat lines use the new numbers while every player keeps level, hp and inventory.
`--ticks N` stops after N ticks.
"""

import argparse
import itertools
import time

import swapscope

import balance
from players import Monster, Player

party = [Player("Ada", "pistol"), Player("Brick", "shotgun"), Player("Cy", "rifle")]
stats = {"kills": 0, "ticks": 0, "bosses": 0}


def spawn(n):
    if n % 5 == 4:
        stats["bosses"] += 1
        return Monster(f"boss #{stats['bosses']}", round(balance.BOSS_HP * balance.DIFFICULTY))
    return Monster(f"goblin #{n + 1}", round(balance.BASE_HP * balance.DIFFICULTY))


def tick(monster, shooter):
    dealt = shooter.fire(monster)
    line = f"{shooter.name} hits {monster.name} with the {shooter.weapon} for {dealt}"
    if not monster.alive:
        stats["kills"] += 1
        shooter.kills += 1
        line += f" - {monster.name} is down (kills: {stats['kills']})"
        shooter.gain_xp(balance.XP_PER_KILL)
        # Dynamic difficulty: live state kept across reloads of balance.py.
        balance.DIFFICULTY = round(balance.DIFFICULTY + 0.05, 2)
    print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=0, help="stop after this many ticks (0: never)")
    parser.add_argument("--speed", type=float, default=10.0, help="ticks per second")
    args = parser.parse_args()
    monsters = (spawn(n) for n in itertools.count())
    monster = next(monsters)
    shooters = itertools.cycle(party)
    while args.ticks == 0 or stats["ticks"] < args.ticks:
        swapscope.safepoint()
        tick(monster, next(shooters))
        if not monster.alive:
            monster = next(monsters)
        stats["ticks"] += 1
        time.sleep(1.0 / args.speed)
    print("party:", ", ".join(map(repr, party)))


if __name__ == "__main__":
    main()
