"""Story clustering: decide whether a matched story reports an event already alerted on.

Contract: `decide(story, prior, settings, now)` is pure. Given the reports already posted
(top-level) or folded (thread replies) in one channel, it returns a `ClusterDecision` naming the
top-level alert to fold the story into, or `None` for a new top-level alert, with the best
similarity seen and a human-readable reason. It never raises on odd input (empty texts, missing
dates): a story it cannot compare simply starts a new alert.

How a story is compared with each report of an event that started within the window:
- same canonical URL: a revised headline of a story already reported; it always folds;
- wording: rapidfuzz token similarity of the normalised titles (token_sort_ratio) and of titles
  plus summaries (token_set_ratio), normalised once per story by
  `rapidfuzz.utils.default_process` (rapidfuzz 3 does not normalise case or punctuation itself);
- distinctive terms: capitalised names (organisations, places, people, products), acronyms,
  law codes ("AB 1215") and figures both mention add a bonus, the most when both lead with the
  same actor. Without a shared name only a near-copy headline can fold;
- conflict vetoes a fold however alike the wording: different acting subjects ("Boston bans
  ..." / "Portland bans ..."), a sure name in each headline the other story never mentions
  ("Italian regulator fines X" / "Dutch regulator fines X"), or different law codes;
- time: the similarity needed rises by up to TIME_PENALTY points across the window.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache, partial
from itertools import combinations

from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process

from bot.models import ClusterSettings, Story

# Tuned on the development set, checked against hand-written look-alike events (see
# tests/test_cluster.py); used when a topic leaves `threshold` at 0.
DEFAULT_THRESHOLD = 58.0
# At the far edge of the window a story needs this many more points than at the event's start:
# a report days later is more often a follow-up than a copy.
TIME_PENALTY = 8.0
# Headlines this alike are copies of one wire story, even when no name was recognised in them.
NEAR_COPY = 90.0
# Points added for distinctive terms shared, capped: shared names are strong evidence of one
# event, and a shared acting subject (both lead with "Riverton") the strongest.
SUBJECT_BONUS = 12.0
ENTITY_BONUS_PER_TERM = 5.0
ENTITY_BONUS_CAP = 22.0
# Titles plus summaries this alike (token_set_ratio), with a rare name in common, are one event
# even when the two lead with different actors (see `_strong_evidence`).
STRONG_TEXT = 75.0


def _words(text: str) -> list[str]:
    return text.split()


# Words that open many place names: "San Diego" and "San Jose" share one but not a place.
_NAME_PREFIXES = frozenset(
    _words("san santa saint st los las el la le fort port mount lake north south east west united")
)

# Capitalised words that name no particular thing: function words that open headlines, calendar
# words, and the vocabulary of the domain itself. They never count as distinctive.
_STOP_CAPITALISED = frozenset(
    _words(
        """
    a an the this that these those it its is are was were be been will would could should can
    may might must shall do does did has have had not no yes new old one two three first second
    last next in on of for to from by at with without as and or but nor so if then than after
    before over under into about against between during amid until up down out off why how what
    when where who whom which while here there all any some most more many few each every other
    such only just also still again says said say told tells report reports update breaking
    following according meanwhile now today yesterday week weeks month months year years
    member members people
    exclusive opinion analysis editorial watch live video photos explainer brief news
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    police cops cop officers officer department dept law laws act bill bills rule rules
    regulation regulations ordinance order orders ban bans banned banning moratorium pause
    facial face faces recognition surveillance biometric biometrics technology tech software
    system systems app apps data privacy ai artificial intelligence
    court courts judge judges supreme appeals federal state states city cities county council
    councils government governments agency agencies authority authorities commission committee
    congress senate house parliament ministry minister mayor governor president ceo board
    company companies firm firms startup group groups officials lawmakers regulator regulators
    watchdog public private national international global
    mr mrs ms dr gov sen rep st
    """
    )
)

# Everyday words a headline may capitalise ("Statement", "Key", "Proceed", "Fines"): where
# capitals are only grammar (a sentence's first word, a Title Case or ALL-CAPS headline) such a
# word is no name unless the story writes it capitalised where capitals mean something. Base
# forms; `_is_common` also finds their inflections ("approves", "approved", "approving").
_COMMON_WORDS = frozenset(
    _words(
        """
    about above accept access accord account accuse act action add address adopt advance
    advice affect after age agree agreement aim alarm alert allow also alternative amend
    amendment announce answer apart appeal appear apply approach approval approve aren't argue
    arrest ask assess attack attempt audit authorise authorize avoid await back backs bad bar
    base basic battle bear become becomes begin behind believe benefit best better beyond bid
    big bill block blow body boost break bring broad build burden business buy call campaign
    can't cap capture care case catch cause caution center centre challenge chance change charge
    check choice choose cite civil claim clash class clear close closer come comment commit
    common concern condemn confirm conflict consider continue control controversial controversy
    cost couldn't count cover crack crackdown create crime critic critical criticise criticize
    cross crucial curb cut damage data database deal deals debate decide decision declare defend
    delay delete demand deny deploy deployment despite detail develop didn't digital direct
    director disclose discuss doesn't don't doubt draft drive drop due early ease effect effort
    embrace emerge enable end enforce enforcement enter era escape establish ethic ethical
    exclusive expand expect expert explain expose extend face fact fail fair fall false family
    fear feature fight file final finally find fine fire firm first fix focus follow force form
    forward fourth free freeze fresh full fund further future gain gap get give go good grant
    great grow guard guidance guide halt hand handle hard head hear help here's high hit hold
    hope huge human idea illegal impact impose include increase inside instead intend
    investigate investigation isn't issue it's join joint judge jump keep key kill know lack
    land landmark large late latest launch lead leader leak learn leave legal let level lift
    light likely limit line list little live local long look lose loss major make man manage
    mark market massive matter mean meanwhile measure meet message mind minor miss model move
    much must name nationwide near need never new news next note notice now object offer
    official online open operate oppose option order outlaw outline overhaul own part partial
    pass path pay penalty permit pick place plan play plea please pledge point policy positive
    possible post potential power prepare present press pressure prevent price private probe
    problem proceed process prohibit promise proposal propose proposed protect protection
    protest prove provide public pull push put question quick quiet raise range rare reach react
    read ready real reason receive recent record reduce reform refuse reject release remain
    remove repeal replace request require research resist response rest restrict restriction
    result return reveal review right rise risk road role roll rule run safe safety sale save
    say scan scrap scrutiny second secret security see seek seize sell send serious service set
    settle settlement share shift short shouldn't show shut side sign signal simple slam slow
    smart social soon speak special spend split spread stage stand start statement stay step
    stop story strike strong study subject suit support suspend sweeping system take talk target
    task tell temporary term test that's there's third threat threaten tight time top total
    track trade trial trigger true trust try turn unlawful unveil urge use user value vote want
    warn warning wasn't watch way web weigh welcome weren't what's who's wide win wins won't
    word work worry wouldn't write wrong yes
    lawsuit ruling verdict resident parent student teacher worker employee customer shopper
    researcher scientist activist advocate campaigner survey poll tool camera photo image
    footage scanner program programme pilot contract vendor school university store shop airport
    stadium street victim woman child children crowd fan visitor traveler traveller passenger
    patient doctor nurse
    """
    )
)

# Spellings of one place that a headline and a summary often mix. Kept tiny and generic.
_ALIASES = {
    # The United States is the default setting of most of this news: as a name it tells nothing.
    "us": "",
    "u.s": "",
    "u.s.": "",
    "usa": "",
    "america": "",
    "american": "",
    "americans": "",
    "u.k": "uk",
    "u.k.": "uk",
    "britain": "uk",
    "british": "uk",
    "eu": "europe",
    "european": "europe",
    "europe": "europe",
}
# A country and what its people and things are called meet at one key ("French regulator" /
# "fined in France"), where the endings below cannot join them.
_DEMONYMS = {
    "france": "french",
    "netherlands": "dutch holland",
    "norway": "norwegian",
    "germany": "german",
    "spain": "spanish spaniard",
    "sweden": "swedish swede",
    "denmark": "danish dane",
    "finland": "finnish finn",
    "poland": "polish pole",
    "greece": "greek",
    "ireland": "irish",
    "switzerland": "swiss",
    "china": "chinese",
    "japan": "japanese",
    "korea": "korean",
    "portugal": "portuguese",
    "turkey": "turkish turk",
    "israel": "israeli",
    "russia": "russian",
    "ukraine": "ukrainian",
    "belgium": "belgian",
    "austria": "austrian",
    "hungary": "hungarian",
    "canada": "canadian",
    "mexico": "mexican",
    "brazil": "brazilian",
    "australia": "australian",
    "india": "indian",
    "italy": "italian",
    "argentina": "argentine argentinian",
    "scotland": "scottish scot",
    "wales": "welsh",
    "england": "english",
}
_ALIASES |= {
    form: country
    for country, demonyms in _DEMONYMS.items()
    for demonym in [country, *_words(demonyms)]
    for form in (demonym, f"{demonym}s")
}

# Demonym and plural endings, longest first, so "Italy", "Italian" and "Italians" meet at "ital".
_SUFFIXES = ("ians", "ian", "ans", "ese", "ish", "ia", "an", "s", "y", "a", "e")

_APOSTROPHES = "'\u2019"
_WORD = re.compile(rf"[A-Za-z0-9][A-Za-z0-9.{_APOSTROPHES}&]*")
# "AB 1215", "SB1047", "HB 2": capitals then a number that is not an amount ("AI 20 million").
_LAW_CODE = re.compile(
    r"\b(?!USD|EUR|GBP)([A-Z]{1,4})[\s-]?(\d{1,5})\b(?![.,]\d|\s*(?:million|billion|bn|%|percent))"
)
_FIGURE = re.compile(r"\d+(?:[.,]\d+)?")
_DASHES = "\u2013\u2014"  # en and em dash: "One step closer \u2013 the act moves on"
_SENTENCE_BREAK = re.compile(rf"[.!?:;|{_DASHES}]\s|\s[-{_DASHES}]\s|^\s*")
_YEAR = re.compile(r"(?:19|20)\d\d")


@dataclass(frozen=True, slots=True)
class PriorReport:
    """One story already alerted (top-level) or folded (thread reply) in a channel."""

    alert_id: str  # the id of the top-level alert of its event (for a folded report: its parent's)
    title: str
    summary: str
    url: str
    source: str
    published: datetime  # aware; the story's published time (or first-seen time)
    event_start: datetime  # aware; published time of the event's first (top-level) report
    # Its comparison features when computed once at recording (bot/matching/cluster_index.py); None:
    # computed (and cached) when compared.
    features: Features | None = field(default=None, compare=False)

    @classmethod
    def of(
        cls, alert_id: str, story: Story, published: datetime, event_start: datetime
    ) -> PriorReport:
        """The report of `story`, already alerted (or folded) under `alert_id`."""
        return cls(
            alert_id, story.title, story.summary, story.url, story.source, published, event_start
        )


@dataclass(frozen=True, slots=True)
class ClusterDecision:
    """Where a story goes: into an existing alert's thread, or out as a new top-level alert."""

    parent_id: str | None  # alert id to fold into; None: a new top-level alert
    similarity: float  # 0-100, the best score seen
    reason: str  # which prior alert, which similarity components, shared entities; or why none
    parent_published: datetime | None = None  # when the alert folded into was published


def report_of(
    root: str, story: Story, published: datetime, parent_start: datetime | None
) -> PriorReport:
    """What `story`, just posted under the alert `root` (its own id when it is a new alert), is
    to the decisions after it.

    The one rule of an event's start, used by the pipeline and by `eval --clusters`: an event
    starts when its top-level alert was published, so a reply inherits its parent's start (the
    `parent_published` of the decision that folded it, given as `parent_start`) and a new alert
    (`parent_start` None) starts its own event.
    """
    return PriorReport.of(root, story, published, parent_start or published)


@dataclass(frozen=True, slots=True)
class _Name:
    stem: str
    strong: bool  # capitalised mid-sentence, or an acronym: surely a name
    acronym: bool = False  # written in capitals as an acronym (CNIL, FTC, DPA)


@dataclass(frozen=True, slots=True)
class Profile:
    """What the comparison needs from one story, computed once."""

    sorted_title: str  # the headline normalised for rapidfuzz, its words sorted (see `score_pair`)
    text: str  # normalised title + summary
    subject: tuple[str, ...]  # stems of the headline's first distinctive name; () if none
    lede: tuple[str, ...]  # stems of the summary's first distinctive name: its acting subject
    title_names: frozenset[str]  # stems of the headline's distinctive names
    strong_title_names: frozenset[str]  # those of them surely names (see `_Name`)
    names: frozenset[str]  # stems of every distinctive name in title and summary
    strong_names: frozenset[str]  # those of them surely names
    agency_led: bool  # the headline's subject is an acronym: a regulator, court or agency
    initials: frozenset[str]  # initials of capitalised runs ("New Jersey" -> "nj")
    vocabulary: str  # stems of every word, sorted, one space around each (see `_unmentioned`)
    law_codes: frozenset[str]  # bill and law codes ("ab1215")
    figures: tuple[str, ...]  # amounts and counts ("650", "30.5"), years excluded; sorted


@dataclass(frozen=True, slots=True)
class Features:
    """A report's comparison features, computed once: its profile."""

    profile: Profile

    @property
    def sorted_title(self) -> str:
        """Its normalised headline with words sorted (the near-copy test's input, `_blocked`)."""
        return self.profile.sorted_title


def features(title: str, summary: str, *, cached: bool = False) -> Features:
    """The comparison features of one story, for the caller to keep. `cached`: through
    `profile`'s cache (a story just decided on is there); else computed without filling it."""
    return Features(profile(title, summary) if cached else profile.__wrapped__(title, summary))


def _sorted_words(normalised: str) -> str:
    return " ".join(sorted(normalised.split()))


def _features_of(report: PriorReport) -> Features:
    if report.features is not None:
        return report.features
    return Features(profile(report.title, report.summary))


@dataclass(frozen=True, slots=True)
class PairScore:
    """The similarity of a story and one prior report, with the components that made it."""

    total: float
    title: float
    text: float
    bonus: float
    shared: tuple[str, ...]  # distinctive names and figures in both stories
    names: tuple[str, ...]  # the names among them
    same_subject: bool  # both lead with the same actor
    veto: str  # "" or why the pair can never fold (worked out by `_vetoed`, see `decide`)

    @property
    def foldable(self) -> bool:
        """No veto, and some evidence beyond shared vocabulary: a shared name or a near copy."""
        return not self.veto and (bool(self.names) or self.title >= NEAR_COPY)


def decide(
    story: Story,
    prior: Sequence[PriorReport],
    settings: ClusterSettings,
    now: datetime,
    *,
    blocking: bool = False,
) -> ClusterDecision:
    """Fold `story` into the alert of the most similar recent event, or start a new alert.

    With `blocking` the story is scored only against the reports that could fold it: those
    sharing a distinctive name with it, or whose headline is a near copy of its own (see
    `PairScore.foldable`). The fold chosen is the same; a new alert's "closest" report is then
    the closest of those, and its similarity 0 when there is none.
    """
    if not settings.enabled:
        return ClusterDecision(None, 0.0, "new alert: clustering is disabled for this topic")
    published = story.published or now
    window = timedelta(hours=settings.window_hours)
    earliest, latest = published - window, published + window  # compared, not subtracted
    candidates = [p for p in prior if earliest <= p.event_start <= latest]
    if not candidates:
        return ClusterDecision(None, 0.0, _no_candidates_reason(len(prior), settings))
    same_url = next((p for p in candidates if story.url and p.url == story.url), None)
    if same_url is not None:  # a revised headline of a story already reported
        reason = f"folded into alert {same_url.alert_id}: same canonical URL as '{same_url.title}'"
        return ClusterDecision(same_url.alert_id, 100.0, reason, same_url.event_start)
    threshold = settings.threshold or DEFAULT_THRESHOLD
    mine = profile(story.title, story.summary)
    if blocking:
        candidates = _blocked(mine, candidates)
        if not candidates:
            return ClusterDecision(None, 0.0, _NOTHING_SHARED)
    scored = [
        _Scored(report, score_pair(mine, _features_of(report).profile), bar)
        for report in candidates
        for bar in [threshold + TIME_PENALTY * _window_fraction(published, report, window)]
    ]
    # The veto is worked out only where it can change the decision: for the pairs that would
    # fold without it, and for the closest report, whose pair the reason describes.
    could_fold = [s for s in scored if s.pair.foldable and s.pair.total >= s.bar]
    foldable = [s for s in map(partial(_vetoed, mine), could_fold) if s.pair.foldable]
    if foldable:
        return _fold(max(foldable, key=lambda s: s.pair.total - s.bar))
    return _keep_apart(_vetoed(mine, max(scored, key=lambda s: s.pair.total)))


_NOTHING_SHARED = "new alert: no recent alert shares a distinctive name or a near-copy headline"
# The near-copy test of blocking keeps a margin below NEAR_COPY: it may keep too many, never
# too few.
_NEAR_COPY_BLOCK = NEAR_COPY - 1.0


def _blocked(mine: Profile, candidates: Sequence[PriorReport]) -> list[PriorReport]:
    """The candidates that could fold the story (in their order): those sharing a distinctive
    name with it (`Profile.names`), or with a near-copy headline (`near_copies`). Without
    either a pair is never `foldable`. (bot/matching/cluster_index.py finds the same reports
    through an index by name.)"""
    known = [report.features or _features_of(report) for report in candidates]
    kept = near_copies(mine, [f.sorted_title for f in known])
    disjoint = mine.names.isdisjoint
    return [
        report
        for index, (report, features) in enumerate(zip(candidates, known, strict=True))
        if not disjoint(features.profile.names) or index in kept
    ]


def near_copies(mine: Profile, sorted_titles: Sequence[str]) -> set[int]:
    """The positions of the headlines (`Features.sorted_title`) that may be near copies of the
    story's: blocking's second test."""
    near = process.extract(
        mine.sorted_title,
        sorted_titles,
        scorer=fuzz.ratio,
        score_cutoff=_NEAR_COPY_BLOCK,
        limit=None,
    )
    return {index for _, _, index in near}


def _vetoed(mine: Profile, scored: _Scored) -> _Scored:
    """`scored` with the veto of its pair worked out (`score_pair` leaves it "")."""
    veto = _veto(mine, _features_of(scored.report).profile, scored.pair.text)
    return replace(scored, pair=replace(scored.pair, veto=veto)) if veto else scored


def _veto(a: Profile, b: Profile, text: float) -> str:
    """Why the two stories can never fold, whatever their similarity ("" if nothing stands
    against it)."""
    veto = subject_conflict(a, b)
    if veto and not _name_conflict(a, b) and _strong_evidence(a, b, text):
        return ""  # only a different lead stood against it: strong evidence wins
    return veto


def score_pair(a: Profile, b: Profile) -> PairScore:
    """Similarity of two stories, 0-100: wording plus a bonus for shared distinctive terms. The
    veto is left "": `decide` works it out (`_vetoed`) only where it can change the decision."""
    # A profile's texts went through `default_process` once, when it was made (`_normalise`):
    # processing them again for every pair gives the same strings (tests/test_cluster.py).
    # The headlines' words were sorted once too: `ratio` of them is `token_sort_ratio` of the
    # headlines (tests/test_cluster.py), without splitting and sorting them for every pair.
    title = fuzz.ratio(a.sorted_title, b.sorted_title)
    text = fuzz.token_set_ratio(a.text, b.text)
    names = tuple(sorted(a.names & b.names))
    figures = set(a.figures).intersection(b.figures) if a.figures and b.figures else ()
    shared = tuple(sorted(set(names).union(figures)))
    same_subject = _same_subject(a, b)
    bonus = min(
        ENTITY_BONUS_CAP,
        SUBJECT_BONUS * same_subject + ENTITY_BONUS_PER_TERM * (len(shared) - same_subject),
    )
    total = min(100.0, max(title, 0.5 * title + 0.5 * text) + bonus)
    return PairScore(total, title, text, bonus, shared, names, same_subject, "")


def _same_subject(a: Profile, b: Profile) -> bool:
    """Both stories lead with the same actor, in headline or lede."""
    mine = set(a.subject + a.lede) - _NAME_PREFIXES
    return bool(mine & set(b.subject + b.lede))


def subject_conflict(a: Profile, b: Profile) -> str:
    """Why two stories are about different actors or different laws ("" if not).

    A story's subjects are the first distinctive names of its headline and of its summary (the
    lede's acting subject). Two reports of one event share a subject, or each names the other's
    in its headline or lede ("Italy fines Clearview" / "Clearview fined in Italy"). Otherwise
    they are about different cities, companies or agencies however alike the wording: naming
    another actor in passing ("Microsoft joins Amazon in ...") does not make a Microsoft story
    an Amazon story.
    """
    if not a.subject or not b.subject:
        return _name_conflict(a, b)
    if _same_subject(a, b) or (_names_subject(b, a) and _names_subject(a, b)):
        return _name_conflict(a, b)
    if _acts_on(a, b) or _acts_on(b, a):
        return _name_conflict(a, b)
    return f"different subjects: {' '.join(a.subject)} / {' '.join(b.subject)}"


def _acts_on(agency: Profile, other: Profile) -> bool:
    """A headline led by an acronym (a regulator, a court, an agency) names the other story's
    subject: "CNIL fines FaceTrail" / "FaceTrail fined in France", whose reporter may never write
    the acronym. The agency's action on the company is one event, not two subjects."""
    return agency.agency_led and _names_subject(agency, other)


def _strong_evidence(a: Profile, b: Profile, text: float) -> bool:
    """Wording this alike and a rare name in common, each story naming the other's subject:
    evidence of one event that a different lead ("Jane Okafor's lawsuit ends ..." / "Harbor City
    police settle ...") must not veto."""
    rare = (a.strong_names & b.strong_names) - _NAME_PREFIXES
    named = (_names_subject(a, b) or _mentions_subject(a, b)) and (
        _names_subject(b, a) or _mentions_subject(b, a)
    )
    return text >= STRONG_TEXT and bool(rare) and named


def _mentions_subject(story: Profile, other: Profile) -> bool:
    """The story mentions the other's subject anywhere, as a name."""
    return bool((set(other.subject) - _NAME_PREFIXES) & story.names)


def _names_subject(story: Profile, other: Profile) -> bool:
    """The story's headline or lede names one of the other story's subjects, or its acronym."""
    prominent = story.title_names | set(story.lede)
    for subject in (other.subject, other.lede):
        if (set(subject) - _NAME_PREFIXES) & prominent:
            return True
        if any(word in story.initials for word in subject):
            return True
    return False


def _name_conflict(a: Profile, b: Profile) -> str:
    """Each headline names someone or somewhere the other story never mentions, or the two
    stories cite different laws.

    "Italian regulator fines Clearview" / "Dutch regulator fines Clearview": one actor, two
    events. Only sure names count, so a Title Case word ("Gets", "Approved") cannot veto.
    """
    if a.law_codes and b.law_codes and not a.law_codes & b.law_codes:
        return f"different laws: {_listed(a.law_codes)} / {_listed(b.law_codes)}"
    only_a = _unmentioned(a.strong_title_names, b)
    only_b = _unmentioned(b.strong_title_names, a)
    if only_a and only_b:
        return f"conflicting names: {_listed(only_a)} / {_listed(only_b)}"
    return ""


def _unmentioned(names: frozenset[str], story: Profile) -> Collection[str]:
    """The names the story never uses, as a name or as any word (a stem holds no space)."""
    left = names - story.names - _NAME_PREFIXES
    return [n for n in left if f" {n} " not in story.vocabulary] if left else left


def _listed(names: Collection[str]) -> str:
    return ", ".join(sorted(names))


# Bounded by entries for the work at hand: the stories being decided now (their profile is
# asked again when the poll's index records them). Reports keep their own features
# (bot/matching/cluster_index.py, `eval --clusters`), so a channel's alerts need no room here.
@lru_cache(maxsize=128)
def profile(title: str, summary: str) -> Profile:
    """Extract the comparison features of one story (cached: see above)."""
    casing = _story_casing(title, summary)
    title_runs = _name_runs(title, casing, is_title=True)
    summary_runs = _name_runs(summary, casing, is_title=False)
    title_names = frozenset(n.stem for run in title_runs for n in run)
    summary_names = frozenset(n.stem for run in summary_runs for n in run)
    strong = frozenset(n.stem for run in title_runs + summary_runs for n in run if n.strong)
    lede = tuple(n.stem for n in summary_runs[0]) if summary_runs else ()
    # The headline's first sure name; in a Title Case headline that may come after a few
    # capitalised ordinary words ("Take It at Face Value: Court Approves ... Clearview").
    sure_runs = [run for run in title_runs if any(n.stem in strong for n in run)]
    first = (sure_runs or title_runs or [()])[0]
    subject = tuple(n.stem for n in first) or lede
    everything = f"{title}. {summary}"
    title_codes, summary_codes = _law_codes(title), _law_codes(summary)
    title_names = _shared(title_names | title_codes)
    law_codes = _shared(title_codes | summary_codes, title_codes)
    names = _shared(title_names | summary_names | law_codes, title_names)
    strong = _shared(strong, names, title_names)
    return Profile(
        sorted_title=_sorted_words(_normalise(title)),
        text=_normalise(everything),
        subject=subject,
        lede=lede,
        title_names=title_names,
        strong_title_names=_shared((title_names & strong) | title_codes, title_names, strong),
        names=names,
        strong_names=strong,
        agency_led=bool(first) and all(n.acronym for n in first),
        initials=_shared(_initials(*(text for text in (title, summary) if _mode(text) != _CAPS))),
        vocabulary=_vocabulary(_WORD.findall(everything)),
        law_codes=law_codes,
        figures=tuple(sorted({f for f in _FIGURE.findall(everything) if _is_figure(f)})),
    )


# A report's profile is held by the clustering index for the whole window (bot/matching/
# cluster_index.py), so it keeps one object for equal sets: most of its sets are empty, or equal
# to another of its sets (216 bytes for an empty frozenset, 700 for a few names).
_EMPTY: frozenset[str] = frozenset()


def _shared(found: frozenset[str], *held: frozenset[str]) -> frozenset[str]:
    """`found`, or an equal set in `held`, or the one empty set."""
    if not found:
        return _EMPTY
    return next((other for other in held if other == found), found)


def _vocabulary(words: Iterable[str]) -> str:
    """Every word's stem, sorted, with one space around each: " ban clearview fine ". A string,
    not a set: a tenth of the memory, and `_unmentioned` looks up only a few names in it (in C)."""
    return f" {' '.join(sorted({_stem(w) for w in words}))} "


def _name_runs(text: str, casing: _Casing, *, is_title: bool) -> list[tuple[_Name, ...]]:
    """Runs of consecutive distinctive capitalised words, each as a tuple of names.

    Capitals prove little at the start of a sentence, in a Title Case Headline or in a headline
    in CAPITALS: there a word is a name when the story writes it so where capitals mean
    something (`_Casing`); otherwise when it is no everyday word and the story never writes it
    in lower case, and then a weak name (except a sentence-case headline's first word, which
    opens with its subject: "Italy fines ...").
    """
    mode = _mode(text) if is_title or _mode(text) == _CAPS else _SENTENCE
    runs: list[tuple[_Name, ...]] = []
    current: list[_Name] = []
    for word, initial in _words_with_position(text):
        stem = _stem(word)
        strength = _name_strength(word, stem, mode, initial, casing, is_title=is_title)
        if strength is not None:
            if stem and stem not in _STOP_CAPITALISED:
                acronym = stem in casing.acronyms or (mode != _CAPS and _is_acronym(word))
                current.append(_Name(stem, strength, acronym))
            continue
        if current:
            runs.append(tuple(current))
        current = []
    if current:
        runs.append(tuple(current))
    return runs


def _name_strength(
    word: str, stem: str, mode: str, initial: bool, casing: _Casing, *, is_title: bool
) -> bool | None:
    """None: not a name; True: surely a name; False: a weak name (capitals may be grammar)."""
    if not word[0].isupper() or stem in _STOP_CAPITALISED or len(word) < 2:
        return None
    if word.lower().strip("." + _APOSTROPHES) in _STOP_CAPITALISED:
        return None
    if not stem:  # a name too common to tell anything ("U.S."), but still a name
        return False
    if mode != _CAPS and _is_acronym(word):  # NJ, BIPA, DPA
        return True
    if stem in casing.named:  # the story capitalises it where capitals mean something
        return True
    if mode == _SENTENCE and not initial:
        return True
    if stem in casing.lowered or _is_common(word):
        return None
    # A headline word in capitals that running text also capitalises, if only at a sentence's
    # start ("NORWEGIAN REGULATOR ..." / "Norway's regulator ..."), is no everyday word: a name.
    return (mode == _SENTENCE and is_title) or (mode != _SENTENCE and stem in casing.opening)


@dataclass(frozen=True, slots=True)
class _Casing:
    """How a story writes its words where capitals carry meaning: mid-sentence in running text,
    acronyms outside an ALL-CAPS text, and any word in lower case."""

    named: frozenset[str]  # stems capitalised mid-sentence, or written as acronyms
    acronyms: frozenset[str]  # stems written as acronyms
    opening: frozenset[str]  # stems of capitalised words that open a sentence
    lowered: frozenset[str]  # stems written in lower case somewhere


def _story_casing(*texts: str) -> _Casing:
    named: set[str] = set()
    acronyms: set[str] = set()
    opening: set[str] = set()
    lowered: set[str] = set()
    for text in texts:
        mode = _mode(text)
        for word, initial in _words_with_position(text):
            if word[0].islower():
                lowered.add(_stem(word))
            elif mode != _CAPS and _is_acronym(word):
                acronyms.add(_stem(word))
            elif mode == _SENTENCE:
                (opening if initial else named).add(_stem(word))
    return _Casing(
        frozenset(named | acronyms), frozenset(acronyms), frozenset(opening), frozenset(lowered)
    )


_SENTENCE, _TITLE, _CAPS = "sentence", "title", "caps"


@lru_cache(maxsize=64)  # one story's texts, asked again by each of its features
def _mode(text: str) -> str:
    """How a text uses capitals: "caps" (ALL CAPITALS), "title" (Most Words Capitalised) or
    "sentence" (capitals mark sentence starts and names)."""
    cased = [char for char in text if char.isupper() or char.islower()]
    if len(cased) >= 12 and sum(char.isupper() for char in cased) >= 0.8 * len(cased):
        return _CAPS
    return _TITLE if _is_title_case(text) else _SENTENCE


def _is_acronym(word: str) -> bool:
    letters = [char for char in word if char.isalpha()]
    return len(letters) > 1 and all(char.isupper() for char in letters)


def _is_common(word: str) -> bool:
    """An everyday word, or an inflection of one ("Fines", "Approved", "Passes", "Bars")."""
    base = re.sub(rf"[{_APOSTROPHES}]s$", "", word.lower().strip(".-"))
    return bool(_base_forms(base) & _COMMON_WORDS)


def _base_forms(word: str) -> set[str]:
    """What `word` may inflect: bars -> bar, passes -> pass, bodies -> body, approved ->
    approve, stopped -> stop, moving -> move, banning -> ban."""
    forms = {word}
    for ending in ("s", "es", "ed", "ing"):
        if word.endswith(ending) and len(word) - len(ending) >= 2:
            stem = word[: -len(ending)]
            forms |= {stem, stem + "e"}
            if len(stem) > 2 and stem[-1] == stem[-2]:  # a doubled consonant
                forms.add(stem[:-1])
    if word.endswith("ies"):
        forms.add(word[:-3] + "y")
    return forms


def _words_with_position(text: str) -> list[tuple[str, bool]]:
    """Each word, and whether it opens a sentence (where capitals are grammar, not names)."""
    starts = {m.end() for m in _SENTENCE_BREAK.finditer(text)}
    return [(m.group(), m.start() in starts) for m in _WORD.finditer(text)]


def _is_title_case(title: str) -> bool:
    """Most longer words capitalised: "Boston City Council Bans Facial Surveillance Technology"."""
    words = [w for w in _WORD.findall(title)[1:] if len(w) > 3 and w[0].isalpha()]
    return len(words) >= 3 and sum(w[0].isupper() for w in words) / len(words) >= 0.7


@lru_cache(maxsize=2048)  # everyday words repeat across stories; bounded by entries
def _stem(word: str) -> str:
    """Lower case, possessive and demonym/plural endings dropped, known spellings merged."""
    word = word.lower().strip(".-" + _APOSTROPHES)
    word = re.sub(rf"[{_APOSTROPHES}]s?$", "", word)
    if word in _ALIASES:
        return _ALIASES[word]
    if word.isupper() or len(word) <= 4:
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=64)  # one story's texts, asked again by each of its features
def _law_codes(text: str) -> frozenset[str]:
    """Bill and law codes, spacing normalised: "AB 1215" and "AB1215" both give "ab1215". In a
    text in CAPITALS a word before a number is no code ("FOR 3 YEARS", "OF 20 MILLION")."""
    caps = _mode(text) == _CAPS
    return frozenset(
        f"{m.group(1)}{m.group(2)}".lower()
        for m in _LAW_CODE.finditer(text)
        if not (caps and (m.group(1).lower() in _STOP_CAPITALISED or _is_common(m.group(1))))
    )


def _initials(*texts: str) -> frozenset[str]:
    """Acronyms, and the initials of runs of capitalised words ("New Jersey" -> "nj")."""
    found: set[str] = set()
    for text in texts:
        for run in re.findall(r"[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+", text):
            words = run.split()
            for start, end in combinations(range(len(words) + 1), 2):
                if end - start >= 2:
                    found.add("".join(w[0] for w in words[start:end]).lower())
        found.update(w.lower() for w in re.findall(r"\b[A-Z]{2,6}\b", text))
    return frozenset(found)


def _is_figure(figure: str) -> bool:
    """Amounts and counts that identify an event ("650", "30.5"); not years or small numbers."""
    return len(figure) >= 2 and not _YEAR.fullmatch(figure)


def _normalise(text: str) -> str:
    """rapidfuzz's default processing: lower case, punctuation to spaces, trimmed."""
    return default_process(text)


def _window_fraction(published: datetime, report: PriorReport, window: timedelta) -> float:
    """How far into its event's window the story comes, 0 at the first report, 1 at the end."""
    if window <= timedelta(0):
        return 0.0
    return min(1.0, abs(published - report.event_start) / window)


def _no_candidates_reason(prior_count: int, settings: ClusterSettings) -> str:
    if prior_count == 0:
        return "new alert: no earlier alerts in this channel"
    window = f"{settings.window_hours:g}h"
    return f"new alert: no alert in this channel whose event started within {window}"


@dataclass(frozen=True, slots=True)
class _Scored:
    report: PriorReport
    pair: PairScore
    bar: float  # the similarity this pair needs, the threshold raised for time


def _describe(scored: _Scored) -> str:
    pair, report = scored.pair, scored.report
    return (
        f"'{report.title}' ({report.source}, alert {report.alert_id}) at {pair.total:.0f}"
        f" [title {pair.title:.0f}, text {pair.text:.0f}, shared-terms bonus {pair.bonus:.0f}"
        f"{' (same subject)' if pair.same_subject else ''};"
        f" shared: {', '.join(pair.shared) or 'none'}; needed {scored.bar:.0f}]"
    )


def _fold(scored: _Scored) -> ClusterDecision:
    reason = f"folded into alert {scored.report.alert_id}: similar to {_describe(scored)}"
    return ClusterDecision(
        scored.report.alert_id, scored.pair.total, reason, scored.report.event_start
    )


def _keep_apart(scored: _Scored) -> ClusterDecision:
    pair = scored.pair
    why = pair.veto or ("below the threshold" if pair.foldable else "no distinctive name shared")
    reason = f"new alert: {why}; closest was {_describe(scored)}"
    return ClusterDecision(None, scored.pair.total, reason)
