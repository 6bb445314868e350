"""Passage roles: the title, the metadata lines, section headings and photo captions, findable by what they are.

Readers ask about the document itself ("What's the headline?", "When was it published?",
"What does the photo show?", "Who took the photo?", "What is the section heading?") with words
the text does not contain. Each such passage gets a role term at indexing time, and the question
words that ask for it map to the same term. Within a caption, what the photo shows and who took
it are different sentences: the first is marked for "what does the photo show", the credit for
"who took it".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from .chunking import ends_open
from .types import Passage, Sentence

TITLE, META, CAPTION = "\u27e8title\u27e9", "\u27e8meta\u27e9", "\u27e8caption\u27e9"
CREDIT, SUBTITLE, HEADING = "\u27e8credit\u27e9", "\u27e8subtitle\u27e9", "\u27e8heading\u27e9"
LEAD, BYLINE = "\u27e8lead\u27e9", "\u27e8byline\u27e9"
SUBTITLE_MAX_WORDS = 30  # a second paragraph this short, right under the title, is its subtitle
HEADING_MAX_WORDS = 12  # a one-line paragraph this short, without a full stop, heads the section below it
NUMBER, TIME = "\u27e8number\u27e9", "\u27e8time\u27e9"
# Words that make a passage hold a quantity or a date/time; looked up in a set, one scan per passage.
_NUMBER_WORDS = frozenset(
    """hundred hundreds thousand thousands million millions billion billions dozen dozens two three four
    five six seven eight nine ten eleven twelve twenty thirty forty fifty sixty seventy eighty ninety""".split()
)
_TIME_WORDS = frozenset(
    """january february march april may june july august september october november december jan feb
    mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday
    today yesterday tomorrow tonight morning afternoon evening midnight noon""".split()
)
_DIGIT = re.compile(r"\d")
_LETTERS = re.compile(r"[^\W\d_]+")
_CLOCK_OR_YEAR = re.compile(r"\b(?:\d{1,2}:\d\d|(?:1[5-9]|20)\d\ds?|[ap]\.m)\b", re.IGNORECASE)
_ASKS_NUMBER = re.compile(r"\bhow (?:many|much|old|far|long)\b|\bnumber of\b|\bwhat percentage\b", re.IGNORECASE)
_ASKS_TIME = re.compile(
    r"^\W*when\b|\bwhen (?:did|does|do|was|were|is|are|will|has|have|had)\b|"
    r"\b(?:what|which) (?:time|day|date|year|month|hour)\b|\bsince when\b|\bhow long ago\b",
    re.IGNORECASE,
)
# Stems (see Tokenizer) of question words that ask for a role.
TRIGGERS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("headlin", "titl"), (TITLE,)),
    **dict.fromkeys(("subtitl", "subhead", "standfirst", "tagline"), (SUBTITLE,)),
    **dict.fromkeys(("section", "crosshead", "header"), (HEADING,)),
    **dict.fromkeys(("publish", "post", "updat", "written", "dateline"), (META,)),
    **dict.fromkeys(("photo", "photograph", "pictur", "imag", "caption", "pic"), (CAPTION,)),
}
# Words whose stem is too common to trigger ("heading" and "head of state" share "head"). An
# article's heading is its headline; its headings are its sections'.
# "authorities" shares the stem "author": only the words themselves ask for a byline, which only a
# byline line answers (``BYLINE``; the other metadata lines stand closest when there is none).
WORD_TRIGGERS: dict[str, tuple[str, ...]] = {
    "heading": (TITLE,),
    "headings": (HEADING,),
    **dict.fromkeys(("author", "authors", "byline", "bylines"), (BYLINE, META)),
}
# Words that point at the document itself; they carry no weight when judging coverage.
DOCUMENT_WORDS = frozenset(("articl", "stori", "text", "document", "piec", "page"))
_META_LINE = re.compile(r"^\s*(Posted|Published|Last Updated|Updated|Date|By|Author|Source|URL)\s*:", re.I)
_BYLINE_LINE = re.compile(r"^\s*(By|Author)\s*:", re.I)
_CREDIT = re.compile(r"\(([^()\n]{2,80})\)")
_PARAGRAPH_END = re.compile(r"[^\S\n]*\n[^\S\n]*\n")  # a blank line: paragraphs end there
_NON_SPACE = re.compile(r"\S")
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_ORDINALS |= {"fifth": 5, "5th": 5, "last": 0, "final": 0}
ASKABLE_PLACES = range(1, max(_ORDINALS.values()) + 1)  # captions a question can ask for by number
_PHOTO_WORD = r"(?:photo|photograph|picture|image|caption|pic)s?"
# A credit is asked for about a photo: "Who took the photo?", "photo credit", "which agency's picture".
_ASKS_CREDIT = re.compile(
    r"\bwho (?:took|shot|snapped|made|captured)\b|\btaken by\b|\bcredit(?:s|ed)?\b|\bcourtesy\b|\bagency\b",
    re.IGNORECASE,
)
_DOCUMENT = r"(?:article|story|text|piece|report|document|news|page)"
# Questions about the whole document that name no subject: its gist is in the title (and subtitle).
_ASKS_SUMMARY = re.compile(
    r"\bsummar(?:y|ies|i[sz]e)\b|\bgist\b|\boverview\b|\btl;?dr\b|\bin a nutshell\b|"
    r"\b(?:main|key) (?:points?|ideas?|topics?|takeaways?)\b|"
    rf"\bwhat(?:'s|\u2019s|\s+is|\s+was)\s+(?:(?:this|the|that)\s+(?:[\w-]+\s+)?{_DOCUMENT}|this|it|that)"
    r"\s+(?:all\s+)?about\b|"
    rf"\bwhat\s+(?:is|was)\s+(?:this|the)\s+{_DOCUMENT}\s+(?:on|covering)\b|"
    r"^\W*what(?:'s|\u2019s|\s+is|\s+was)?\s+(?:happened|happening|going on)\W*$",
    re.IGNORECASE,
)
_ASKS_AUTHOR = re.compile(
    rf"\bwho\s+(?:wrote|authored|penned|reported)\s+(?:this|the|that)\s+{_DOCUMENT}\b|"
    rf"\b(?:this|the|that)\s+{_DOCUMENT}\s+(?:was\s+|is\s+)?(?:written|reported)\s+by\b",
    re.I,
)
_PHOTO = re.compile(rf"\b{_PHOTO_WORD}\b|\bphotographers?\b", re.IGNORECASE)
_ASKS_NTH_PHOTO = re.compile(rf"\b({'|'.join(_ORDINALS)})\s+{_PHOTO_WORD}\b", re.IGNORECASE)


def triggered(word: str, term: str) -> tuple[str, ...]:
    """The role terms a question word asks for ("photos": the captions), by its stem or, if ambiguous, itself."""
    return WORD_TRIGGERS.get(word.casefold(), TRIGGERS.get(term, ()))


def roles(passage: Passage, document_text: str) -> list[str]:
    """Role terms of a passage: title, subtitle, heading, metadata, caption, and whether it holds numbers or dates."""
    found = answer_types(passage.text)
    if passage.paragraph == 1:
        found.append(TITLE)
    if subtitle(document_text, passage.sentences):
        found.append(SUBTITLE)
    if headings(document_text, passage.sentences):
        found.append(HEADING)
    sentences = [document_text[s.start : s.end] for s in passage.sentences]
    metadata = set().union(*map(_metadata_roles, sentences))
    found += [role for role in (META, BYLINE) if role in metadata]
    if any(_is_credit(s) for s in sentences):
        found += [CAPTION, CREDIT]
    return found


def caption_ordinals(passages: Sequence[Passage], texts: Sequence[str]) -> list[list[str]]:
    """For each passage, the terms of its captions' places among its document's: first, second, last."""
    counts = [sum(_is_credit(texts[p.doc][s.start : s.end]) for s in p.sentences) for p in passages]
    totals: Counter[int] = Counter()
    for passage, count in zip(passages, counts, strict=True):
        totals[passage.doc] += count
    seen: Counter[int] = Counter()
    places: list[list[str]] = []
    for passage, count in zip(passages, counts, strict=True):
        first = seen[passage.doc] + 1
        seen[passage.doc] += count
        terms = [nth_caption(n) for n in range(first, seen[passage.doc] + 1)]
        last = count and seen[passage.doc] == totals[passage.doc]
        places.append([*terms, nth_caption(0)] if last else terms)
    return places


def passage_roles(passages: Sequence[Passage], texts: Sequence[str]) -> list[list[str]]:
    """Every passage's role terms, as indexed: its roles, its captions' places, whether it is its document's lead."""
    places = caption_ordinals(passages, texts)
    return [
        roles(p, texts[p.doc]) + place + ([LEAD] if lead else [])
        for p, place, lead in zip(passages, places, leads(passages, texts), strict=True)
    ]


def leads(passages: Sequence[Passage], texts: Sequence[str]) -> list[bool]:
    """Whether each passage holds its document's lead: the first paragraph of running text.

    News and encyclopedia writing state the gist there ("What is this article about?"), below the
    title, subtitle, metadata lines, captions and headings.
    """
    seen: set[int] = set()
    found = []
    for passage in passages:
        lead = passage.doc not in seen and _runs_text(texts[passage.doc], passage.sentences)
        if lead:
            seen.add(passage.doc)
        found.append(lead)
    return found


def _runs_text(text: str, sentences: Sequence[Sentence]) -> bool:
    """Whether any of a passage's sentences is running text: one with no role (title, heading, caption...)."""
    return not all(sentence_roles(text, sentences, caption_groups(text, sentences)))


def is_nth_caption(term: str) -> bool:
    """Whether ``term`` names one caption by its place ("the second photo"), not captions in general."""
    return term.startswith("\u27e8caption") and term != CAPTION


def nth_caption(n: int) -> str:
    """The role term of the n-th caption of a document (0: the last one)."""
    return f"\u27e8caption{n or 'last'}\u27e9"


def _is_credit(sentence: str) -> bool:
    """A sentence that is only a parenthesised credit: ``(The Associated Press)``, ``(Jane Doe/Reuters)``."""
    match = _CREDIT.fullmatch(sentence.strip())
    if not match:
        return False
    words = match.group(1).replace("/", " ").split()
    return all(w[0].isupper() or w.lower() in ("the", "of", "and", "for", "via") for w in words)


def subtitle(text: str, sentences: Sequence[Sentence]) -> list[int]:
    """Indices of the sentences of a passage that form its document's subtitle (the short second paragraph).

    The whole paragraph must be in the passage: the tail of a long one split across passages is
    no subtitle.
    """
    second = [i for i, s in enumerate(sentences) if s.paragraph == 2]
    if not second or sentences[second[0]].number != 1:
        return []
    end = sentences[second[-1]].end
    whole = _NON_SPACE.search(text, end) is None or _PARAGRAPH_END.match(text, end) is not None
    lines = [text[sentences[i].start : sentences[i].end] for i in second]
    short = sum(len(line.split()) for line in lines) <= SUBTITLE_MAX_WORDS
    return second if whole and short and not any(_META_LINE.match(line) for line in lines) else []


def headings(text: str, sentences: Sequence[Sentence]) -> list[int]:
    """Indices of the sentences of a passage that head a section.

    A markdown heading line ("## Early life"), or a whole paragraph of one short line with no
    closing punctuation that some text follows ("Turkey calls for 'goal-oriented talks'"). The
    title, the subtitle, metadata lines and captions' credits are not headings.
    """
    under_title = set(subtitle(text, sentences))
    found = []
    for i, sentence in enumerate(sentences):
        if sentence.paragraph == 1 or i in under_title:
            continue
        if text.startswith("#", sentence.start) or (sentence.number == 1 and _heads(text, sentence)):
            found.append(i)
    return found


def _heads(text: str, sentence: Sentence) -> bool:
    """Whether a paragraph's first sentence is the whole paragraph, a short open line with text below it."""
    line = text[sentence.start : sentence.end]
    if len(line.split()) > HEADING_MAX_WORDS or not ends_open(line) or _META_LINE.match(line) or _is_credit(line):
        return False
    end = _PARAGRAPH_END.match(text, sentence.end)
    return end is not None and _NON_SPACE.search(text, end.end()) is not None


def caption_groups(text: str, sentences: Sequence[Sentence]) -> list[list[int]]:
    """For each credit among a passage's ``sentences``, in order: its caption's sentence indices, credit last.

    The caption is the paragraph of the words just before the credit (its own, or the one above).
    """
    credits = [i for i, s in enumerate(sentences) if _is_credit(text[s.start : s.end])]
    groups = []
    for i in credits:
        paragraph = sentences[i - 1].paragraph if i > 0 else None
        words = [j for j in range(i) if sentences[j].paragraph == paragraph and j not in credits]
        groups.append([*words, i])
    return groups


def sentence_roles(text: str, sentences: Sequence[Sentence], captions: Sequence[list[int]]) -> list[set[str]]:
    """Role terms each sentence of a passage answers for: a metadata line, a title, subtitle or heading, a caption.

    A caption's words before its credit say what the photo shows (``CAPTION``); the credit says
    who took it (``CREDIT``). ``captions`` is ``caption_groups`` of the same sentences, which the
    caller also needs.
    """
    found = [_line_roles(text[s.start : s.end], s.paragraph) for s in sentences]
    for i in subtitle(text, sentences):
        found[i].add(SUBTITLE)
    for i in headings(text, sentences):
        found[i].add(HEADING)
    for *words, credit in captions:
        found[credit].add(CREDIT)
        for j in words:
            found[j].add(CAPTION)
    return found


def _line_roles(line: str, paragraph: int) -> set[str]:
    """A metadata line is no title."""
    return _metadata_roles(line) or ({TITLE} if paragraph == 1 else set())


def _metadata_roles(line: str) -> set[str]:
    """``META`` for a metadata line ("Posted: ..."), with ``BYLINE`` for a "By:" or "Author:" line."""
    if _BYLINE_LINE.match(line):
        return {META, BYLINE}
    return {META} if _META_LINE.match(line) else set()


def answer_types(text: str) -> list[str]:
    """``NUMBER`` when the text holds a quantity, ``TIME`` when it holds a date or time."""
    words = set(_LETTERS.findall(text.lower()))
    found = []
    if _DIGIT.search(text) or not words.isdisjoint(_NUMBER_WORDS):
        found.append(NUMBER)
    if not words.isdisjoint(_TIME_WORDS) or _CLOCK_OR_YEAR.search(text):
        found.append(TIME)
    return found


def document_asks(question: str) -> list[tuple[str, tuple[str, ...], str]]:
    """What a question asks of the document as a whole: a word for it, the role terms that answer, the asking words.

    "What is this article about?" and "Summarize the story" ask for its gist, which its title,
    subtitle and lead state; "Who wrote this article?" asks for its byline, a metadata line. The asking
    words ("summarize", "main points") say what is wanted, not what it is about.
    """
    asks = (("summary", (TITLE, LEAD), _ASKS_SUMMARY), ("author", (BYLINE, META), _ASKS_AUTHOR))
    found = ((word, terms, pattern.search(question)) for word, terms, pattern in asks)
    return [(word, terms, match.group(0)) for word, terms, match in found if match]


def photo_ordinals(question: str) -> list[str]:
    """The ordinal words of "the second photo", "the last picture" in a question (case folded, in order)."""
    return [m.group(1).casefold() for m in _ASKS_NTH_PHOTO.finditer(question)]


def question_types(question: str) -> list[str]:
    """What a question expects: "how many" a number, "when" a date, "who took" a credit, "the 2nd photo" one caption."""
    found = [term for term, pattern in ((NUMBER, _ASKS_NUMBER), (TIME, _ASKS_TIME)) if pattern.search(question)]
    if _PHOTO.search(question) and (_ASKS_CREDIT.search(question) or "photographer" in question.casefold()):
        found.append(CREDIT)
    return found + [nth_caption(_ORDINALS[word]) for word in photo_ordinals(question)]
