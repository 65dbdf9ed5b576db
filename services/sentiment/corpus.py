"""A deterministic, self-written English sentiment corpus.

"reviews" (product, restaurant, hotel, movie and app reviews) is the training
domain; "social" (short posts with slang, emojis, hashtags and mentions) is a
shifted domain with the same labels, used as text domain-shift traffic.

Every random choice comes from one `random.Random` seeded with a string, which
CPython hashes with SHA-512, so the output never depends on PYTHONHASHSEED.
"""
from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence

LABELS = ("negative", "neutral", "positive")
DOMAINS = ("reviews", "social")
LABEL_NOISE = 0.03
_MAX_WORDS = 60

Example = tuple[str, str]

# ---------------------------------------------------------------- reviews data

_INTENSIFIERS = ("", "", "", "really ", "extremely ", "very ", "so ", "incredibly ",
                 "pretty ", "quite ", "absolutely ", "super ", "genuinely ", "truly ")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "March", "April", "June", "July", "August", "October", "December")
_COLOURS = ("blue", "black", "white", "grey", "red", "green", "silver", "brown", "plain cardboard")
_COMPANIONS = ("my wife", "my husband", "a friend", "my parents", "the kids", "two coworkers",
               "my sister", "my partner", "my roommate", "my team")

# (aspect, is_plural, positive adjectives, negative adjectives)
_Aspect = tuple[str, bool, tuple[str, ...], tuple[str, ...]]

_CATEGORIES: dict[str, dict] = {
    "restaurant": {
        "subjects": ("the pasta", "the ramen", "the burger", "the tacos", "the steak", "the pad thai",
                     "the pizza", "the curry", "the brunch", "the sushi", "the dumplings", "the salad",
                     "the cheesecake", "the soup", "the fried chicken", "the pho", "the lasagna"),
        "aspects": (
            ("food", False, ("delicious", "tasty", "fresh", "flavorful"), ("bland", "cold", "greasy", "overcooked")),
            ("service", False, ("friendly", "attentive", "quick", "warm"), ("rude", "slow", "careless", "chaotic")),
            ("portions", True, ("generous", "huge", "filling"), ("tiny", "stingy", "sad")),
            ("atmosphere", False, ("cozy", "lively", "charming"), ("noisy", "cramped", "gloomy")),
            ("staff", True, ("welcoming", "helpful", "lovely"), ("unfriendly", "dismissive", "clueless")),
            ("wine list", False, ("excellent", "thoughtful"), ("overpriced", "limited")),
            ("dessert", False, ("heavenly", "delightful"), ("stale", "soggy")),
        ),
        "again": ("eat here", "come back", "order from them"),
        "place": "restaurant",
        "facts": (
            "I ordered {subject} on {day}.",
            "We had a table for {num} at {hour} pm.",
            "We went there on a {day} evening with {companion}.",
            "The menu has about {num} vegetarian options.",
            "They take reservations online and by phone.",
            "Parking is on the street behind the building.",
            "I got {subject} to go.",
            "The restaurant opened in {month} last year.",
            "We sat by the window near the bar.",
            "The bill came to about {price} dollars for {num} people.",
            "Does anyone know if they do {subject} for takeout?",
        ),
    },
    "hotel": {
        "subjects": ("the room", "the suite", "the hotel", "the resort", "the hostel", "the B&B",
                     "the lodge", "the inn", "the apartment", "the cabin"),
        "aspects": (
            ("room", False, ("spotless", "spacious", "comfortable", "quiet"), ("filthy", "cramped", "musty", "noisy")),
            ("bed", False, ("comfy", "huge", "soft"), ("lumpy", "squeaky", "tiny")),
            ("front desk", False, ("helpful", "efficient", "welcoming"), ("rude", "useless", "unhelpful")),
            ("breakfast", False, ("delicious", "generous", "varied"), ("stale", "meagre", "cold")),
            ("location", False, ("perfect", "convenient", "central"), ("sketchy", "remote", "inconvenient")),
            ("bathroom", False, ("clean", "modern", "gorgeous"), ("mouldy", "dirty", "broken")),
            ("wifi", False, ("fast", "reliable"), ("slow", "patchy")),
            ("views", True, ("stunning", "breathtaking"), ("depressing", "ugly")),
        ),
        "again": ("stay here", "book this place", "come back"),
        "place": "hotel",
        "facts": (
            "We stayed {num} nights in {month}.",
            "Our room was on the {ordinal} floor.",
            "Check-in is at {hour} pm and checkout at 11.",
            "We booked {subject} through an app on a {day}.",
            "The hotel is a {num} minute walk from the station.",
            "I travelled with {companion} for a conference.",
            "Breakfast is served from {hour} to 10.",
            "The rate was {price} dollars a night including tax.",
            "There is a pool on the roof and a gym downstairs.",
            "Is {subject} close to the airport?",
        ),
    },
    "movie": {
        "subjects": ("the movie", "the film", "the sequel", "this documentary", "the remake",
                     "the series", "the pilot episode", "this thriller", "the comedy", "the animated film"),
        "aspects": (
            ("acting", False, ("superb", "convincing", "brilliant"), ("wooden", "awkward", "painful")),
            ("plot", False, ("gripping", "clever", "original"), ("predictable", "confusing", "lazy")),
            ("soundtrack", False, ("beautiful", "haunting", "catchy"), ("forgettable", "grating", "annoying")),
            ("ending", False, ("satisfying", "powerful", "moving"), ("rushed", "pointless", "ridiculous")),
            ("visuals", True, ("gorgeous", "stunning", "striking"), ("cheap", "ugly", "murky")),
            ("dialogue", False, ("sharp", "witty", "natural"), ("clunky", "cringeworthy", "dull")),
            ("pacing", False, ("tight", "perfect"), ("sluggish", "uneven", "slow")),
            ("characters", True, ("memorable", "lovable", "compelling"), ("flat", "irritating", "shallow")),
        ),
        "again": ("watch it", "see it", "rewatch it"),
        "place": "movie",
        "facts": (
            "I watched {subject} on {day} with {companion}.",
            "It runs about {minutes} minutes.",
            "We saw it in the {ordinal} row of a small cinema.",
            "It came out in {month} and is now streaming.",
            "The director also made a documentary about trains.",
            "I saw {subject} at the {hour} pm showing.",
            "It is based on a novel from the seventies.",
            "The tickets were {price} dollars each.",
            "Is {subject} available with subtitles?",
        ),
    },
    "product": {
        "subjects": ("this blender", "the headphones", "this vacuum", "the kettle", "this backpack",
                     "the phone case", "this lamp", "the keyboard", "this jacket", "the air fryer",
                     "the charger", "these boots", "the office chair", "this printer", "the toaster",
                     "the mattress", "the speaker"),
        "aspects": (
            ("build quality", False, ("solid", "excellent", "sturdy"), ("flimsy", "cheap", "poor")),
            ("battery life", False, ("amazing", "impressive", "excellent"), ("awful", "terrible", "pathetic")),
            ("price", False, ("fair", "reasonable", "unbeatable"), ("ridiculous", "too high", "absurd")),
            ("instructions", True, ("clear", "helpful", "simple"), ("useless", "confusing", "missing")),
            ("delivery", False, ("fast", "quick", "smooth"), ("late", "slow", "a nightmare")),
            ("design", False, ("sleek", "elegant", "clever"), ("clunky", "ugly", "awkward")),
            ("sound", False, ("crisp", "rich", "clear"), ("tinny", "muffled", "distorted")),
            ("materials", True, ("premium", "durable", "soft"), ("cheap", "scratchy", "brittle")),
            ("customer support", False, ("responsive", "helpful", "great"), ("unresponsive", "rude", "hopeless")),
        ),
        "again": ("buy it", "order it", "buy from them"),
        "place": "purchase",
        "facts": (
            "It arrived in a {colour} box on {day}.",
            "I bought {subject} in {month} for {price} dollars.",
            "It comes with a USB cable and a manual.",
            "The package weighed about {num} kilos.",
            "I ordered the {colour} one.",
            "It took {num} days to arrive.",
            "I have had {subject} for {num} weeks now.",
            "It replaced an older model I had for {num} years.",
            "It ships from a warehouse in the {ordinal} district.",
            "Does {subject} come in {colour}?",
        ),
    },
    "app": {
        "subjects": ("this app", "the update", "the new version", "the budgeting app", "this game",
                     "the fitness tracker app", "the banking app", "the photo editor", "the weather app",
                     "this meditation app", "the language app", "the note taking app"),
        "aspects": (
            ("interface", False, ("intuitive", "clean", "slick"), ("confusing", "cluttered", "clunky")),
            ("performance", False, ("snappy", "smooth", "fast"), ("laggy", "sluggish", "slow")),
            ("sync", False, ("reliable", "instant", "seamless"), ("broken", "unreliable", "flaky")),
            ("notifications", True, ("useful", "helpful", "well timed"), ("spammy", "annoying", "constant")),
            ("subscription", False, ("worth it", "fair", "cheap"), ("a rip-off", "overpriced", "predatory")),
            ("login", False, ("quick", "painless", "easy"), ("buggy", "broken", "painful")),
            ("latest update", False, ("great", "excellent", "polished"), ("buggy", "terrible", "a disaster")),
            ("ads", True, ("unobtrusive", "rare"), ("intrusive", "endless", "aggressive")),
        ),
        "again": ("use it", "recommend it", "pay for it"),
        "place": "app",
        "facts": (
            "I installed version {major}.{minor} on my phone on {day}.",
            "The app asks for location access on first launch.",
            "I have been using {subject} for {num} months.",
            "It is available on Android and iOS.",
            "The download is about {num}0 megabytes.",
            "I use {subject} mostly in the morning.",
            "The premium plan costs {price} dollars a year.",
            "It syncs with my laptop over wifi.",
            "It was last updated in {month}.",
            "Is {subject} available in Spanish?",
        ),
    },
}

_POS_VERDICTS = (
    "Would {again} again.", "I would definitely {again} again.", "Highly recommend.",
    "Five stars.", "Worth every penny.", "Not bad at all.", "I can't complain.",
    "Exceeded my expectations.", "Best {place} I've tried in years.", "Really happy with it.",
    "Ten out of ten.", "Couldn't be happier.", "A real gem.", "Loved every minute.",
    "Absolutely recommend this {place}.", "We will be back for sure.", "No complaints whatsoever.",
)
_NEG_VERDICTS = (
    "Never again.", "Would not recommend.", "Avoid.", "Total waste of money.", "One star.",
    "Really disappointed.", "Not great.", "Not worth it.", "I want a refund.", "I won't {again} again.",
    "Worst {place} I've tried in years.", "Save your money.", "Did not live up to the hype.",
    "What a letdown.", "I regret it.", "Stay away from this {place}.", "Not good at all.",
)
_NEU_VERDICTS = (
    "It was okay overall.", "Not bad, not great.", "Three stars.", "It does the job.",
    "About what I expected.", "Mixed feelings.", "Neither good nor bad.", "It's fine I guess.",
    "Average {place}.", "Might {again} again, might not.", "Hard to say yet.", "Nothing special either way.",
    "It's alright.", "Pretty standard {place}.",
)
_GENERIC_POSITIVE = ("great", "good", "excellent", "fantastic", "wonderful", "lovely", "amazing", "superb")
_GENERIC_NEGATIVE = ("terrible", "bad", "awful", "poor", "disappointing", "horrible", "dreadful", "lousy")
_MID_ADJECTIVES = ("okay", "fine", "average", "alright", "nothing special", "standard", "acceptable",
                   "as expected", "decent enough", "ordinary", "so-so")
_POS_TURNS = ("overall I loved it", "we still had a great time", "the {aspect2} more than made up for it",
              "I'd still recommend it", "it was worth it in the end", "I'm still really happy",
              "honestly it was a great experience", "I'd happily {again} again")
_NEG_TURNS = ("overall it was a letdown", "the {aspect2} ruined it", "I won't {again} again",
              "it's not worth the price", "overall I was really disappointed", "it was a bad experience",
              "I wouldn't recommend it", "I'm asking for a refund")
_OPENERS = ("", "", "", "", "", "Update: ", "Long story short, ", "Honestly, ", "So, ",
            "Okay so ", "Quick review: ", "Where to start. ", "First time writing a review. ")

# ---------------------------------------------------------------- social data

_SOCIAL_THINGS = ("the new drop", "this update lol", "the finale", "my new kicks", "that boba spot",
                  "the concert", "the merch", "this playlist", "this filter", "the new album",
                  "the season 2 trailer", "this collab", "the halftime show", "my fit today",
                  "the new skin", "that tiktok trend", "the livestream", "this meme", "the new menu drop",
                  "the patch notes", "that podcast ep", "this thread", "the remix", "the fan cam")
_SOCIAL_USERS = ("jayyy", "kenz_2k", "its_mila", "dev0n", "sunnyboi", "lexxi", "raffy", "noodlegrl",
                 "zaynnn", "tk_official", "bri.x", "moonchild", "santi99", "vibezz")
_SOCIAL_TAGS = {
    "positive": ("blessed", "goals", "obsessed", "vibes", "winning", "mood", "slay", "W"),
    "negative": ("fail", "ratio", "L", "cancelled", "mondays", "ugh", "scam", "flop"),
    "neutral": ("news", "fyi", "tbt", "ootd", "live", "update", "weekend", "random"),
}
_SOCIAL_EMOJIS = {
    "positive": ("🔥", "😍", "🙌", "💯", "🥰", "✨", "😎", "🤩", "💅"),
    "negative": ("💀", "😤", "🙄", "😡", "🤮", "😒", "👎", "😭"),
    "neutral": ("👀", "🤔", "📍", "📅", "🎧", "☕", "📸", "🚗"),
}
_SOCIAL_TEMPLATES = {
    "positive": ("{thing} slaps {e}", "ngl {thing} is lowkey goated {e}", "{thing} goes hard fr fr {e}",
                 "obsessed w {thing} {e} #{tag}", "@{user} u gotta try {thing} no cap", "{thing} is bussin {e}{e}",
                 "10/10 {thing} {e}", "{thing} hits different {e}", "highkey in love w {thing}",
                 "tbh {thing} ate {e} #{tag}", "{thing} = elite {e}", "yall {thing} is fire {e}",
                 "{thing} living rent free in my head {e}", "big W for {thing} #{tag}", "istg {thing} is perfection",
                 "honestly {thing} is amazing {e}", "best {thing} ever {e}", "highly recommend {thing} tbh"),
    "negative": ("{thing} is mid af {e}", "{thing} is trash smh", "ugh {thing} flopped {e}",
                 "who approved {thing} {e} #{tag}", "nah {thing} aint it", "{thing} got me tilted rn {e}",
                 "@{user} {thing} was a whole L", "lowkey hate {thing} {e}", "{thing} is so cringe {e}",
                 "smh {thing} is a scam #{tag}", "{thing} = massive L {e}", "ngl {thing} kinda sucks {e}",
                 "imo {thing} is overhyped garbage", "{thing} is giving nothing {e}", "bruh {thing} is dead {e}",
                 "worst {thing} ever {e}", "{thing} is so bad lol", "really disappointed w {thing} {e}"),
    "neutral": ("watching {thing} rn {e}", "anyone tried {thing}?", "@{user} wya", "heading out brb {e}",
                "{thing} drops tmrw #{tag}", "@{user} did u see {thing}", "idk what {thing} even is tbh",
                "{thing} at 8 tonight {e}", "pov: waiting for {thing} {e}", "rt if u saw {thing}",
                "new post up, link in bio #{tag}", "@{user} sending u {thing} now", "gm {e} #{tag}",
                "{thing} thread below {e}", "hmu if ur going to {thing}",
                "{thing} is ok i guess", "{thing} was fine tbh {e}", "{thing}? not bad not great"),
}
_SOCIAL_FILLERS = ("", "", "", " lol", " lmao", " fr", " tbh", " rn", " imo", " omg", " ngl", " smh", " idk")

_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "tenth", "twelfth")


def generate(n: int = 4000, seed: int = 7, domain: str = "reviews") -> list[Example]:
    """Return `n` (text, label) pairs; the same arguments always give the same list."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {DOMAINS}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"mlobs-corpus/{domain}/{seed}")
    labels = [LABELS[i % len(LABELS)] for i in range(n)]
    rng.shuffle(labels)
    build = _review if domain == "reviews" else _social_post
    examples = []
    for label in labels:
        text = _noisy(build(rng, label), rng, heavy=domain == "social")
        if rng.random() < LABEL_NOISE:
            label = rng.choice([other for other in LABELS if other != label])
        examples.append((text, label))
    return examples


def corpus_hash(examples: Iterable[Example]) -> str:
    """SHA-256 hex of the examples as compact UTF-8 JSON, in order."""
    canonical = json.dumps([[text, label] for text, label in examples],
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def split(examples: Sequence[Example], test_fraction: float = 0.2,
          seed: int = 7) -> tuple[list[Example], list[Example]]:
    """Stratified, deterministic train/test split.

    Every copy of a text lands on the same side, so no test text leaks into training.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    first_label: dict[str, str] = {}
    for text, label in examples:
        first_label.setdefault(text, label)
    rng = random.Random(f"mlobs-corpus-split/{seed}")
    test_texts: set[str] = set()
    for label in sorted(set(first_label.values())):
        texts = [text for text, first in first_label.items() if first == label]
        rng.shuffle(texts)
        test_texts.update(texts[:round(len(texts) * test_fraction)])
    train = [ex for ex in examples if ex[0] not in test_texts]
    test = [ex for ex in examples if ex[0] in test_texts]
    return train, test


# ---------------------------------------------------------------- builders

def _review(rng: random.Random, label: str) -> str:
    category = _CATEGORIES[rng.choice(sorted(_CATEGORIES))]
    tense = rng.choice(("past", "past", "present"))
    slots = _slots(rng, category)
    aspects = rng.sample(category["aspects"], 3)
    facts = iter(rng.sample(category["facts"], 6))

    def fact() -> str:
        return next(facts).format(**slots)

    def verdict(kind: str) -> str:
        table = {"positive": _POS_VERDICTS, "negative": _NEG_VERDICTS, "neutral": _NEU_VERDICTS}[kind]
        return rng.choice(table).format(**slots)

    def about(aspect: _Aspect, kind: str) -> str:
        return _aspect_sentence(rng, aspect, kind, tense)

    body: list[str] = []
    shape = rng.random()
    if label == "neutral":
        if shape < 0.35:
            body = [fact() for _ in range(rng.randint(1, 3))]
        elif shape < 0.55:
            body = [about(aspects[0], "mid"), verdict("neutral")]
        elif shape < 0.75:
            body = [_mixed(rng, aspects, tense, slots, "neutral")]
        elif shape < 0.88:
            body = [about(aspects[0], "neither")]
        else:
            body = [fact(), verdict("neutral")]
    else:
        other = "negative" if label == "positive" else "positive"
        if shape < 0.30:
            body = [about(aspect, label) for aspect in aspects[:rng.choice((1, 1, 2, 2, 3))]]
        elif shape < 0.55:
            body = [_mixed(rng, aspects, tense, slots, label)]
        elif shape < 0.72:
            body = [about(aspects[0], "not-" + other)]
        elif shape < 0.85:
            body = [verdict(label)]
        else:
            body = [about(aspects[0], label), about(aspects[1], "mid")]
        if rng.random() < 0.45:
            body.append(verdict(label))
    if rng.random() < 0.08:
        body.insert(0, about(aspects[2], "mid" if label == "neutral" else label))
        body.insert(0, fact())
    if rng.random() < 0.45:
        body.insert(0, fact())
    if rng.random() < 0.15:
        body.insert(rng.randint(0, len(body)), fact())
    while len(body) > 1 and sum(len(sentence.split()) for sentence in body) > _MAX_WORDS - 5:
        body.pop(0)
    opener, text = rng.choice(_OPENERS), " ".join(body)
    if opener[-2:] in (", ", "o ") and not text.startswith("I "):
        text = text[0].lower() + text[1:]
    text = opener + text
    if len(text.split()) < 3:
        text = f"{slots['subject'].capitalize()}: {text}"
    return text


def _aspect_sentence(rng: random.Random, aspect: _Aspect, kind: str, tense: str) -> str:
    noun, plural, positive, negative = aspect
    be = ("were" if plural else "was") if tense == "past" else ("are" if plural else "is")
    intens = rng.choice(_INTENSIFIERS)
    if kind in ("positive", "negative"):
        specific = positive if kind == "positive" else negative
        generic = _GENERIC_POSITIVE if kind == "positive" else _GENERIC_NEGATIVE
        adj = rng.choice(generic if rng.random() < 0.35 else specific)
        patterns = ("The {n} {be} {i}{a}.", "I thought the {n} {be} {i}{a}.", "{I}{a} {n}.",
                    "The {n}? {A}.", "Honestly the {n} {be} {i}{a}.", "Gotta say the {n} {be} {i}{a}.",
                    "The {n} {be} {i}{a}, no question.", "The {n} {be} {i}{a} from start to finish.")
    elif kind == "mid":
        adj = rng.choice(_MID_ADJECTIVES)
        intens = ""
        patterns = ("The {n} {be} {a}.", "The {n} {be} {a}, I suppose.", "The {n}? {A}.",
                    "I'd say the {n} {be} {a}.")
    elif kind == "neither":
        adj = f"{rng.choice(positive)} but not {rng.choice(negative)} either"
        patterns = ("The {n} {be} not {a}.", "The {n} {be}n't {a}.")
    else:
        flipped = negative if kind == "not-negative" else positive
        adj = rng.choice(flipped)
        tail = rng.choice(("", " at all", " in the slightest")) if kind == "not-negative" else ""
        intens = rng.choice(("", "", "very ", "that ", "particularly ", "exactly ")
                            if kind == "not-positive" else ("", "", "that ", "even "))
        patterns = ("The {n} {be} not {i}{a}" + tail + ".", "The {n} {be}n't {i}{a}" + tail + ".",
                    "The {n} {be} never {i}{a}" + tail + ".")
    sentence = rng.choice(patterns).format(n=noun, be=be, i=intens, a=adj, A=adj.capitalize(),
                                           I=intens.capitalize())
    return sentence[0].upper() + sentence[1:]


def _mixed(rng: random.Random, aspects: list[_Aspect], tense: str, slots: dict, label: str) -> str:
    (n1, p1, pos1, neg1), (n2, p2, pos2, neg2) = aspects[:2]
    past = tense == "past"
    be1 = ("were" if p1 else "was") if past else ("are" if p1 else "is")
    be2 = ("were" if p2 else "was") if past else ("are" if p2 else "is")
    if label == "neutral":
        a, b = (rng.choice(pos1), rng.choice(neg2)) if rng.random() < 0.5 else (rng.choice(neg1), rng.choice(pos2))
        tail = rng.choice(("", "", " so it evens out", ", so mixed feelings", ", hard to judge overall"))
        return f"The {n1} {be1} {a} but the {n2} {be2} {b}{tail}."
    first = rng.choice(neg1 if label == "positive" else pos1)
    turn = rng.choice(_POS_TURNS if label == "positive" else _NEG_TURNS).format(aspect2=n2, **slots)
    if rng.random() < 0.5:
        return f"The {n1} {be1} {first} but {turn}."
    return f"Although the {n1} {be1} {rng.choice(_INTENSIFIERS)}{first}, {turn}."


def _slots(rng: random.Random, category: dict) -> dict:
    return {
        "subject": rng.choice(category["subjects"]),
        "again": rng.choice(category["again"]),
        "place": category["place"],
        "day": rng.choice(_DAYS),
        "month": rng.choice(_MONTHS),
        "colour": rng.choice(_COLOURS),
        "companion": rng.choice(_COMPANIONS),
        "ordinal": rng.choice(_ORDINALS),
        "num": rng.randint(2, 12),
        "hour": rng.randint(5, 9),
        "minutes": rng.randint(85, 175),
        "price": rng.randint(9, 240),
        "major": rng.randint(1, 9),
        "minor": rng.randint(0, 20),
    }


def _social_post(rng: random.Random, label: str) -> str:
    text = rng.choice(_SOCIAL_TEMPLATES[label]).format(
        thing=rng.choice(_SOCIAL_THINGS), user=rng.choice(_SOCIAL_USERS),
        tag=rng.choice(_SOCIAL_TAGS[label]), e=rng.choice(_SOCIAL_EMOJIS[label]))
    text += rng.choice(_SOCIAL_FILLERS)
    if rng.random() < 0.3:
        text += " " + rng.choice(_SOCIAL_EMOJIS[label])
    if rng.random() < 0.25:
        text += f" #{rng.choice(_SOCIAL_TAGS[label])}"
    if rng.random() < 0.2:
        text = f"@{rng.choice(_SOCIAL_USERS)} " + text
    return text


# ---------------------------------------------------------------- surface noise

def _noisy(text: str, rng: random.Random, heavy: bool) -> str:
    words = [_typo(w, rng) if rng.random() < (0.04 if heavy else 0.02) else w for w in text.split()]
    text = " ".join(words)
    roll = rng.random()
    if roll < (0.5 if heavy else 0.12):
        text = text.lower()
    elif roll < (0.55 if heavy else 0.15):
        text = text.upper()
    if text.endswith(".") and rng.random() < 0.3:
        text = text[:-1] + rng.choice(("!", "!!", "...", "", "!!!"))
    if rng.random() < 0.1:
        text = text.replace("'", "")
    return text


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]
