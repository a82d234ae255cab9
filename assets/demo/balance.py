"""Balance table of the demo game. Edit a number, save, and click Reload in swapscope."""

# Weapons: name -> damage per shot, shots per tick.
WEAPONS = {
    "pistol": {"damage": 10, "rate": 1},
    "shotgun": {"damage": 6, "rate": 3},
    "rifle": {"damage": 25, "rate": 1},
}

# Skills unlock at levels.
SKILLS = {
    2: "steady aim",
    3: "quick reload",
    5: "headshot",
}

BASE_HP = 40
BOSS_HP = BASE_HP * 5  # derived: follows BASE_HP
PLAYER_HP = 100
XP_PER_KILL = 30
XP_PER_LEVEL = 100
HEAL_PER_LEVEL = 15

# Monster hp multiplier. The game raises it as the party gets kills (live state): a reload keeps
# the live value unless you change it here, which swapscope then reports as a conflict.
DIFFICULTY = 1.0


def damage_of(weapon, level):
    """Damage of one shot: the weapon's base damage, plus 10% per level above 1."""
    base = WEAPONS[weapon]["damage"]
    return round(base * (1 + 0.1 * (level - 1)))
