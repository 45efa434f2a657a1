"""Answers from written help: the pages of the web app with the steps the caller's role may take,
the school's knowledge base, and the caller's own account."""

from __future__ import annotations

import re

from backend.assistant import knowledge
from backend.assistant.catalogue import DomainName, PageName
from backend.assistant.facts import Fact
from backend.assistant.models import KnowledgeEntry
from backend.assistant.pages import PAGE_BY_NAME, PAGES, Page, actions_for
from backend.assistant.understanding import Question
from backend.assistant.vocabulary import expanded
from backend.auth import profile
from backend.tenancy import AuthContext, allowed

KNOWLEDGE_CHARS = 600
# The page where a domain's things are done, for "how do I ..." questions.
DOMAIN_PAGES: dict[DomainName, PageName] = {
    "attendance": "attendance",
    "grades": "grades",
    "fees": "fees",
    "health": "health",
    "classes": "classes",
    "enrollment": "students",
    "guardians": "student",
    "policies": "knowledge",
    "account": "account",
}
CONTACT_ACTIONS = ("Change your contact details", "Edit a user's details")
# Words every page could use: they say nothing about which page is meant.
PAGE_NOISE = frozenset(
    {"homeroom", "page", "open", "press", "assistant", "tab", "box", "by", "next", "up", "it", "each", "one"}
)
# Everyday words for what the pages' actions are called.
VERBS = {
    "set up": "create add",
    "setup": "create add",
    "make": "create",
    "start": "create",
    "remove": "deactivate withdraw",
    "delete": "deactivate withdraw",
    "disable": "deactivate",
    "register": "admit",
    "enrol": "admit enroll",
    "connect": "link",
    "attach": "link",
    "log": "record",
    "fix": "correct",
    "change": "correct edit",
    "who changed": "audit",
    "paid": "payment",
    "cash": "payment",
    "history": "audit",
}


def entry_fact(entry: KnowledgeEntry) -> Fact:
    body = " ".join(entry.body.split())
    if len(body) > KNOWLEDGE_CHARS:
        body = body[: KNOWLEDGE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return Fact(f"{entry.title}: {body}")


def page_facts(auth: AuthContext, page: Page) -> list[Fact]:
    if not allowed(auth.role, page.permission):
        return [Fact(f"The {page.title} page is not available to your role.")]
    facts = [Fact(f"{page.title} page: {page.summary}")]
    return facts + [Fact(f"{a.title}: {a.how}") for a in actions_for(page, auth.role)]


def _stem(word: str) -> str:
    """A plural as its singular: classes -> class, users -> user (nothing else)."""
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word


def _page_words(page: Page) -> set[str]:
    text = " ".join([page.name, page.title, page.summary, *(f"{a.title} {a.how}" for a in page.actions)])
    return {_stem(w) for w in re.findall(r"[a-z]+", text.lower())} - knowledge.STOP_WORDS - PAGE_NOISE


PAGE_WORDS = {page.name: _page_words(page) for page in PAGES}
# A word on fewer pages says more about which page is meant ("changed" more than "see").
RARITY = {
    word: 1 / sum(word in words for words in PAGE_WORDS.values())
    for word in set().union(*PAGE_WORDS.values())
}


def _question_words(question: Question) -> set[str]:
    text = " ".join(question.words)
    said = [w for phrase, words in VERBS.items() if re.search(rf"\b{phrase}\b", text) for w in words.split()]
    return {_stem(w) for w in [*question.words, *said] if w.isalpha()}


def _best_page(auth: AuthContext, question: Question) -> Page | None:
    """The caller's page whose text shares the rarest of the question's words; the page of the
    question's topic breaks ties. None when no page shares enough."""
    mine = _question_words(question)
    topics = {DOMAIN_PAGES[d] for d in question.domains if d in DOMAIN_PAGES}
    scored = [
        (sum(RARITY[w] for w in mine & PAGE_WORDS[p.name]) + (0.25 if p.name in topics else 0), -n, p)
        for n, p in enumerate(PAGES)
        if allowed(auth.role, p.permission)
    ]
    score, _order, best = max(scored, key=lambda item: item[:2])
    return best if score >= 0.5 else None


def _page_named(auth: AuthContext, question: Question, page: PageName | None) -> Page | None:
    """The page a how-to question is about: the best-matching page, else the topic's page, else
    the page the caller is on."""
    if best := _best_page(auth, question):
        return best
    for domain in question.domains:
        if domain in DOMAIN_PAGES:
            return PAGE_BY_NAME[DOMAIN_PAGES[domain]]
    return PAGE_BY_NAME.get(page) if page else None


def _own(auth: AuthContext) -> Fact:
    me = profile(auth)
    school = me.school.name if me.school else "Homeroom"
    return Fact(f"You are signed in as {me.user.full_name} ({me.user.email}), {auth.role.value} at {school}.")


def _contact_details(auth: AuthContext) -> list[Fact]:
    """ "How do I change my phone number?": what Homeroom keeps and who changes it."""
    actions = [a for page in PAGES for a in actions_for(page, auth.role) if a.title in CONTACT_ACTIONS]
    return [_own(auth), *(Fact(f"{a.title}: {a.how}") for a in actions)]


def written(auth: AuthContext, domain: DomainName, question: Question, page: PageName | None) -> list[Fact]:
    """Facts for the domains answered from written help and the knowledge base."""
    if domain == "account" and question.aims_at("change"):
        return _contact_details(auth)
    entries = [entry_fact(e) for e in knowledge.search(auth, expanded(question.text))]
    if domain == "account":
        return [_own(auth), *page_facts(auth, PAGE_BY_NAME["account"]), *entries]
    if domain == "help":
        found = _page_named(auth, question, page)
        if found is not None:
            return [*page_facts(auth, found), *entries]
        titles = ", ".join(p.title for p in PAGES if allowed(auth.role, p.permission))
        return [Fact(f"The pages you can open: {titles}."), *entries]
    return entries or [
        Fact("The school has not written an answer about this yet; the school office can help.")
    ]
