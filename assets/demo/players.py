"""Players: inventory, xp and levels, firing."""

import balance


class Player:
    def __init__(self, name, weapon):
        self.name = name
        self.weapon = weapon
        self.inventory = [weapon, "medkit"]
        self.hp = balance.PLAYER_HP
        self.xp = 0
        self.level = 1
        self.kills = 0

    def fire(self, monster):
        """Shoot at a monster; returns the damage dealt."""
        rate = balance.WEAPONS[self.weapon]["rate"]
        dealt = balance.damage_of(self.weapon, self.level) * rate
        monster.hp -= dealt
        return dealt

    def gain_xp(self, amount):
        self.xp += amount
        while self.xp >= balance.XP_PER_LEVEL * self.level:
            self.xp -= balance.XP_PER_LEVEL * self.level
            self.level += 1
            self.hp += balance.HEAL_PER_LEVEL
            skill = balance.SKILLS.get(self.level)
            if skill:
                self.inventory.append(skill)
            print(f"  * {self.name} reached level {self.level}" + (f" and learned {skill}" if skill else ""))

    def __repr__(self):
        return f"{self.name}(lvl {self.level}, hp {self.hp}, xp {self.xp}, {self.weapon})"


class Monster:
    def __init__(self, name, hp):
        self.name = name
        self.hp = hp

    @property
    def alive(self):
        return self.hp > 0
