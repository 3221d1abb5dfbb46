"""Realistic test data: holder names and valid citizen IDs drawn from a seeded ``Random``.

Used by the load test, the demonstration, the benchmarks and the tests; the
domain (:mod:`issuance.domain`) only checks such values.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from issuance.domain.identity import BeijingDistrict, check_character
from issuance.domain.names import MIDDLE_DOT
from sscard_core.card_data import Gender

# Region codes the generator draws from: Beijing's districts and a few other cities.
SAMPLE_REGIONS: tuple[str, ...] = (
    *(d.value for d in BeijingDistrict),
    "120101",  # Tianjin, Heping
    "130102",  # Shijiazhuang, Chang'an
    "310104",  # Shanghai, Xuhui
    "370102",  # Jinan, Lixia
    "410105",  # Zhengzhou, Jinshui
    "440106",  # Guangzhou, Tianhe
    "510107",  # Chengdu, Wuhou
    "650102",  # Urumqi, Tianshan
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "慕容", "令狐")
GIVEN_CHARACTERS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力林斌宇浩凯鹏飞鑫波宁"
    "琳欣怡梓涵子轩雨晨思博文昊然嘉佳欣悦一诺可馨俊熙宏志国庆海峰春梅淑珍德福"
)
MINORITY_PARTS = (
    "阿依古丽", "买买提", "艾力", "阿不都", "热依拉", "古丽娜尔", "依明", "吐尔逊", "努尔",
    "帕提古丽", "阿里木", "热合曼", "巴图", "其其格", "斯琴", "乌兰", "扎西", "卓玛", "次仁",
    "格桑", "阿卜杜拉", "迪丽热巴", "玉素甫", "哈斯", "额尔敦",
)  # fmt: skip
MINORITY_SHARE = 0.05
COMPOUND_SHARE = 0.01


def random_name(rng: random.Random) -> str:
    """A realistic holder name drawn from ``rng``."""
    if rng.random() < MINORITY_SHARE:
        parts = rng.sample(MINORITY_PARTS, rng.choice((2, 2, 3)))
        return MIDDLE_DOT.join(parts)
    surname = (
        rng.choice(COMPOUND_SURNAMES) if rng.random() < COMPOUND_SHARE else rng.choice(SURNAMES)
    )
    given = "".join(rng.choice(GIVEN_CHARACTERS) for _ in range(rng.choice((1, 2, 2, 2))))
    return surname + given


def random_citizen_id(
    rng: random.Random,
    *,
    region: str | None = None,
    gender: Gender | None = None,
    born_after: date = date(1940, 1, 1),
    born_before: date = date(2010, 12, 31),
) -> str:
    """A valid citizen ID drawn from ``rng`` (reproducible with a seeded Random)."""
    chosen_region = region or rng.choice(SAMPLE_REGIONS)
    born = born_after + timedelta(days=rng.randint(0, (born_before - born_after).days))
    sequence = rng.randrange(1000)
    if gender is not None:
        wanted_parity = 1 if gender is Gender.MALE else 0
        if sequence % 2 != wanted_parity:
            sequence = (sequence + 1) % 1000
    first17 = f"{chosen_region}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


def fresh_citizen_id(rng: random.Random, drawn: set[str], *, born_before: date) -> str:
    """A citizen ID from :func:`random_citizen_id` that is not in ``drawn``; added to it."""
    value = random_citizen_id(rng, born_before=born_before)
    while value in drawn:
        value = random_citizen_id(rng, born_before=born_before)
    drawn.add(value)
    return value
