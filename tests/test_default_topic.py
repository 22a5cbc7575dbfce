"""Guards the shipped config/topics.yaml: realistic headlines (written for this test, not taken
from any evaluation set) that must alert, and near misses that must stay quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.matching.evaluate import load_topics_file
from bot.matching.match import Matcher

TOPICS = Path(__file__).resolve().parent.parent / "config" / "topics.yaml"
TOPIC = "facial-recognition-policy"

RELEVANT = [
    (
        "city-council-ban",
        "Oakland council votes to outlaw facial recognition for city agencies",
        "",
    ),
    ("state-moratorium", "Vermont lawmakers approve moratorium on police face recognition", ""),
    ("hyphenated-ban", "County bans facial-recognition cameras in public housing", ""),
    ("face-scanning-ban", "Lawmakers push face-scanning ban for stadiums", ""),
    ("frt-moratorium", "State extends FRT moratorium by two years", ""),
    (
        "company-pause",
        "Amazon extends pause on police use of Rekognition indefinitely",
        "The company said its moratorium on selling the face recognition tool to police stands.",
    ),
    (
        "company-exit",
        "IBM exits the facial recognition business, citing racial profiling",
        "The company said it would no longer offer general-purpose face recognition software.",
    ),
    (
        "company-wont-sell",
        "Tech giant says it will not sell face recognition to police",
        "Until a federal law regulating the technology exists, the company will refuse sales.",
    ),
    ("regulator-fine", "UK watchdog fines facial recognition company \u00a37.5m", ""),
    (
        "hidden-topic-fine",
        "Privacy regulator issues record penalty against school district",
        "The authority found that the district's use of face recognition to take attendance "
        "breached data protection law.",
    ),
    ("court-ruling", "Appeals court rules police use of live facial recognition was unlawful", ""),
    (
        "bipa-settlement",
        "Photo app agrees to $35m settlement in Illinois biometric privacy case",
        "The class action alleged the app built faceprints of users without consent under BIPA.",
    ),
    (
        "bipa-lawsuit",
        "Retailer sued under BIPA over in-store face scanning",
        "Shoppers say the chain collected their facial geometry without written consent.",
    ),
    ("eu-ai-act", "EU lawmakers agree to ban real-time facial recognition in public spaces", ""),
    ("bill-introduced", "Senators introduce bill to curb federal use of face surveillance", ""),
    ("repeal", "City repeals its facial recognition ban as crime rises", ""),
    (
        "regulator-order",
        "Data protection authority orders Clearview to delete Greek citizens' data",
        "",
    ),
    ("typo-in-headline", "Citiy council bans facial recogniton technology", ""),
    (
        "curly-quotes-html",
        "<b>Portland\u2019s \u201cstrictest\u201d ban</b> on face recognition takes effect",
        "&nbsp;The ordinance covers private businesses too.",
    ),
    (
        "summary-carries-tech",
        "Court blocks police database in landmark privacy ruling",
        "Judges said the force's use of automated facial recognition breached privacy rights.",
    ),
]

# The classes issue 9 named (other verbs, findings, lede-only actions, typos, spellings, languages).
RELEVANT += [
    (
        "police-department-drops-facial-recogniti",
        "Police department drops facial recognition after public outcry",
        "",
    ),
    ("county-retires-its-face-recognition-syst", "County retires its face recognition system", ""),
    (
        "metro-transit-agency-axes-plan-for-facia",
        "Metro transit agency axes plan for facial recognition on buses",
        "",
    ),
    (
        "state-nixes-facial-recognition-at-dmv-of",
        "State nixes facial recognition at DMV offices",
        "",
    ),
    (
        "retailer-pulls-the-plug-on-in-store-face",
        "Retailer pulls the plug on in-store face scanning",
        "",
    ),
    (
        "lawmakers-rein-in-police-use-of-facial-r",
        "Lawmakers rein in police use of facial recognition",
        "",
    ),
    (
        "city-puts-the-brakes-on-facial-recogniti",
        "City puts the brakes on facial recognition cameras",
        "",
    ),
    (
        "under-settlement-police-can-t-use-facial",
        "Under settlement, police can't use facial recognition for five years",
        "",
    ),
    (
        "regional-police-breached-privacy-law-wit",
        "Regional police breached privacy law with facial recognition searches, commissioner finds",
        "",
    ),
    (
        "supermarket-chain-found-in-violation-of",
        "Supermarket chain found in violation of privacy act over face scans",
        "",
    ),
    (
        "privacy-commissioner-issues-determinatio",
        "Privacy commissioner issues determination against retailer's facial recognition",
        "",
    ),
    (
        "mps-warn-live-facial-recognition-is-not",
        "MPs warn live facial recognition is not fit for purpose",
        "",
    ),
    (
        "committee-report-says-police-face-recogn",
        "Committee report says police face recognition should be halted until new law",
        "",
    ),
    (
        "statement-on-today-s-ruling",
        "Statement on today's ruling",
        "The court found the force's use of facial recognition unlawful and ordered it to stop.",
    ),
    (
        "the-plaintiff-who-took-on-a-face-search",
        "The plaintiff who took on a face-search company",
        "Last week a judge approved the settlement that bars the company from selling its "
        "faceprint database to private businesses.",
    ),
    (
        "b-rgerschaft-verbietet-gesichtserkennung",
        "Bürgerschaft verbietet Gesichtserkennung im öffentlichen Raum",
        "",
    ),
    (
        "la-cnil-sanctionne-une-soci-t-de-reconna",
        "La CNIL sanctionne une société de reconnaissance faciale",
        "",
    ),
    (
        "el-congreso-proh-be-el-reconocimiento-fa",
        "El Congreso prohíbe el reconocimiento facial en tiempo real",
        "",
    ),
    (
        "il-garante-vieta-il-riconoscimento-facci",
        "Il Garante vieta il riconoscimento facciale nei supermercati",
        "",
    ),
    (
        "town-council-votes-for-facial-recognitio",
        "Town council votes for facial recognition moraterium",
        "",
    ),
    ("county-passes-bann-on-face-surveillance", "County passes bann on face surveillance", ""),
    (
        "company-halts-sales-of-facial-id-to-law",
        "Company halts sales of facial ID to law enforcement",
        "",
    ),
    (
        "regulator-fines-bank-over-facial-verific",
        "Regulator fines bank over facial verification checks",
        "",
    ),
    (
        "state-senate-passes-bill-limiting-face-s",
        "State Senate passes bill limiting face-scanning by police",
        "",
    ),
    (
        "city-council-approves-ordinance-restrict",
        "City council approves ordinance restricting police facial recognition, a measure that "
        "supporters said took two years of negotiations and months of public hearings before "
        "it finally came to a vote on Tuesday night",
        "",
    ),
]

IRRELEVANT = [
    ("phone-unlock", "New phone lets you unlock with face recognition even in the dark", ""),
    ("airport-boarding", "Airline rolls out facial recognition boarding at ten more gates", ""),
    (
        "retail-analytics",
        "Shopping malls test face recognition to count visitors",
        "The system estimates age and mood of shoppers to tailor ads.",
    ),
    ("product-launch", "Startup launches faster facial recognition chip for doorbells", ""),
    ("research", "Researchers find face recognition accuracy improves with new dataset", ""),
    (
        "police-deployment",
        "Police to expand facial recognition vans across the city",
        "Critics warn of mass surveillance, but officers say the cameras catch wanted suspects.",
    ),
    ("eviction-moratorium", "Governor extends eviction moratorium through spring", ""),
    ("drilling-pause", "Administration pauses new oil drilling leases on federal land", ""),
    ("tiktok-ban", "Senate votes to ban TikTok on government phones", ""),
    ("company-news", "Microsoft posts record quarterly profit on cloud growth", ""),
    ("clearview-funding", "Clearview AI raises new funding round from investors", ""),
    ("bank-not-ban", "Bank launches facial recognition login for its mobile app", ""),
    ("band-not-ban", "Band uses face scanning to speed up concert entry", ""),
    ("general-ai-rules", "EU agrees sweeping new rules for chatbots and AI models", ""),
    (
        "wrongful-arrest",
        "Man wrongly arrested after facial recognition error sues police for damages",
        "He was held for 30 hours after the software matched him to a shoplifting suspect.",
    ),
]


# Calls by critics, other senses of "ban", deployments, one wrongful arrest, other news.
IRRELEVANT += [
    (
        "civil-liberties-groups-call-for-ban-on-p",
        "Civil liberties groups call for ban on police facial recognition",
        "",
    ),
    (
        "campaigners-urge-moratorium-on-live-face",
        "Campaigners urge moratorium on live face scanning",
        "",
    ),
    (
        "newspaper-editorial-it-is-time-to-ban-fa",
        "Newspaper editorial: it is time to ban facial recognition",
        "",
    ),
    (
        "australia-s-social-media-ban-for-under-1",
        "Australia's social media ban for under-16s will use face scans to check ages",
        "",
    ),
    (
        "football-fans-with-banning-orders-to-be",
        "Football fans with banning orders to be spotted by facial recognition at stadiums",
        "",
    ),
    (
        "police-expand-facial-recognition-cameras",
        "Police expand facial recognition cameras despite privacy-law concerns",
        "",
    ),
    (
        "man-wrongly-jailed-after-facial-recognit",
        "Man wrongly jailed after facial recognition match sues city for damages",
        "",
    ),
    (
        "school-district-buys-facial-recognition",
        "School district buys facial recognition system for entrances",
        "",
    ),
    (
        "airport-rolls-out-biometric-boarding-wit",
        "Airport rolls out biometric boarding with face scans",
        "",
    ),
    ("senate-bans-tiktok-on-government-devices", "Senate bans TikTok on government devices", ""),
    (
        "eu-agrees-rules-on-general-purpose-ai-mo",
        "EU agrees rules on general-purpose AI models",
        "",
    ),
    ("clearview-ai-names-new-chief-executive", "Clearview AI names new chief executive", ""),
    ("amazon-pauses-hiring-in-its-devices-unit", "Amazon pauses hiring in its devices unit", ""),
    ("city-bans-gas-stoves-in-new-buildings", "City bans gas stoves in new buildings", ""),
    (
        "researchers-find-face-recognition-error",
        "Researchers find face recognition error rates fell sharply",
        "",
    ),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_topics_file(str(TOPICS)))


def _matched(matcher: Matcher, title: str, summary: str) -> bool:
    return any(match.topic == TOPIC for match in matcher.match(title, summary))


@pytest.mark.parametrize(
    ("title", "summary"), [c[1:] for c in RELEVANT], ids=[c[0] for c in RELEVANT]
)
def test_relevant_story_alerts(matcher: Matcher, title: str, summary: str) -> None:
    assert _matched(matcher, title, summary), matcher.explain(title, summary)


@pytest.mark.parametrize(
    ("title", "summary"), [c[1:] for c in IRRELEVANT], ids=[c[0] for c in IRRELEVANT]
)
def test_near_miss_stays_quiet(matcher: Matcher, title: str, summary: str) -> None:
    assert not _matched(matcher, title, summary), matcher.explain(title, summary)
