// SPDX-License-Identifier: MIT
// lexicon: the embedded English words and sentence templates the dataset generators draw from.
#pragma once

#include <string_view>

// Embedded rather than read from /usr/share/dict so that a seed gives the same bytes on every
// machine. Template slots: {N} noun, {N2} another noun, {Ns} plural noun, {A} adjective, {V} verb, {Vs} verb
// with -s, {Ved} past tense, {R} adverb, {P} person, {L} place, {D} small number, {Y} year.

namespace planetserve::workload::detail {

inline constexpr std::string_view nouns[] = {
    "account", "agreement", "analysis", "archive", "area", "article", "audience", "balance", "basket",
    "battery", "bridge", "budget", "building", "cabinet", "calendar", "camera", "campaign", "canal",
    "capacity", "catalog", "category", "channel", "chapter", "circuit", "city", "claim", "client",
    "cluster", "coast", "collection", "committee", "community", "company", "component", "concert",
    "contract", "council", "county", "course", "crew", "customer", "database", "deadline", "decision",
    "delivery", "department", "deposit", "design", "device", "diagram", "directory", "district",
    "document", "engine", "estimate", "event", "exhibit", "factory", "farm", "feature", "festival",
    "field", "file", "fleet", "flight", "forecast", "forest", "garden", "gateway", "harbor", "highway",
    "history", "hospital", "hotel", "household", "index", "instrument", "inventory", "invoice",
    "island", "journal", "journey", "kitchen", "label", "laboratory", "landscape", "ledger", "library",
    "license", "market", "measure", "meeting", "member", "memory", "message", "method", "mill",
    "mission", "model", "module", "museum", "network", "notice", "office", "order", "orchard",
    "package", "painting", "parcel", "partner", "passenger", "pattern", "payment", "permit", "pipeline",
    "plan", "platform", "policy", "portfolio", "position", "printer", "process", "product", "profile",
    "program", "project", "property", "proposal", "quarter", "queue", "railway", "range", "record",
    "region", "register", "report", "request", "reservation", "reservoir", "resource", "restaurant",
    "review", "river", "route", "schedule", "school", "season", "sector", "sensor", "server", "service",
    "session", "settlement", "shipment", "signal", "station", "storage", "strategy", "street", "student",
    "studio", "supplier", "survey", "system", "table", "target", "teacher", "team", "terminal",
    "ticket", "timeline", "tower", "track", "trade", "traffic", "transfer", "treaty", "tunnel", "unit",
    "valley", "vehicle", "vendor", "version", "village", "volume", "voyage", "warehouse", "weather",
    "window", "workshop", "yard",
};

inline constexpr std::string_view adjectives[] = {
    "active", "annual", "ancient", "available", "basic", "brief", "broad", "careful", "central",
    "certain", "civil", "clear", "coastal", "common", "complete", "complex", "considerable", "constant",
    "critical", "current", "daily", "distant", "domestic", "early", "eastern", "effective", "electric",
    "entire", "essential", "exact", "external", "familiar", "final", "financial", "formal", "former",
    "frequent", "full", "general", "gradual", "green", "growing", "historic", "independent", "initial",
    "internal", "large", "late", "local", "long", "main", "major", "manual", "maritime", "medical",
    "minor", "modern", "monthly", "narrow", "national", "natural", "northern", "notable", "official",
    "old", "open", "original", "partial", "pending", "permanent", "personal", "popular", "practical",
    "previous", "primary", "private", "public", "quiet", "rapid", "rare", "recent", "regional",
    "regular", "remote", "rural", "seasonal", "secondary", "secure", "separate", "serious", "shared",
    "short", "significant", "simple", "small", "southern", "special", "stable", "standard", "steady",
    "strict", "strong", "suitable", "temporary", "typical", "urban", "useful", "valid", "various",
    "visible", "weekly", "western", "wide",
};

struct verb_forms {
  std::string_view base, s, ed;
};

inline constexpr verb_forms verbs[] = {
    {"accept", "accepts", "accepted"},     {"add", "adds", "added"},
    {"adjust", "adjusts", "adjusted"},     {"allow", "allows", "allowed"},
    {"announce", "announces", "announced"}, {"approve", "approves", "approved"},
    {"arrange", "arranges", "arranged"},   {"assess", "assesses", "assessed"},
    {"assign", "assigns", "assigned"},     {"build", "builds", "built"},
    {"calculate", "calculates", "calculated"}, {"cancel", "cancels", "cancelled"},
    {"check", "checks", "checked"},        {"collect", "collects", "collected"},
    {"compare", "compares", "compared"},   {"complete", "completes", "completed"},
    {"confirm", "confirms", "confirmed"},  {"connect", "connects", "connected"},
    {"create", "creates", "created"},      {"deliver", "delivers", "delivered"},
    {"describe", "describes", "described"}, {"design", "designs", "designed"},
    {"develop", "develops", "developed"},  {"examine", "examines", "examined"},
    {"expand", "expands", "expanded"},     {"explain", "explains", "explained"},
    {"export", "exports", "exported"},     {"fetch", "fetches", "fetched"},
    {"filter", "filters", "filtered"},     {"find", "finds", "found"},
    {"follow", "follows", "followed"},     {"gather", "gathers", "gathered"},
    {"handle", "handles", "handled"},      {"identify", "identifies", "identified"},
    {"import", "imports", "imported"},     {"improve", "improves", "improved"},
    {"include", "includes", "included"},   {"inspect", "inspects", "inspected"},
    {"install", "installs", "installed"},  {"limit", "limits", "limited"},
    {"list", "lists", "listed"},           {"maintain", "maintains", "maintained"},
    {"manage", "manages", "managed"},      {"measure", "measures", "measured"},
    {"merge", "merges", "merged"},         {"monitor", "monitors", "monitored"},
    {"move", "moves", "moved"},            {"notify", "notifies", "notified"},
    {"open", "opens", "opened"},           {"organize", "organizes", "organized"},
    {"prepare", "prepares", "prepared"},   {"produce", "produces", "produced"},
    {"protect", "protects", "protected"},  {"publish", "publishes", "published"},
    {"record", "records", "recorded"},     {"reduce", "reduces", "reduced"},
    {"register", "registers", "registered"}, {"remove", "removes", "removed"},
    {"repair", "repairs", "repaired"},     {"replace", "replaces", "replaced"},
    {"report", "reports", "reported"},     {"request", "requests", "requested"},
    {"reserve", "reserves", "reserved"},   {"restore", "restores", "restored"},
    {"return", "returns", "returned"},     {"review", "reviews", "reviewed"},
    {"schedule", "schedules", "scheduled"}, {"search", "searches", "searched"},
    {"select", "selects", "selected"},     {"send", "sends", "sent"},
    {"share", "shares", "shared"},         {"sort", "sorts", "sorted"},
    {"store", "stores", "stored"},         {"support", "supports", "supported"},
    {"track", "tracks", "tracked"},        {"transfer", "transfers", "transferred"},
    {"update", "updates", "updated"},      {"validate", "validates", "validated"},
    {"verify", "verifies", "verified"},    {"watch", "watches", "watched"},
};

inline constexpr std::string_view adverbs[] = {
    "briefly", "carefully", "clearly", "closely", "consistently", "directly", "early", "easily",
    "eventually", "exactly", "finally", "frequently", "gradually", "immediately", "largely", "later",
    "mainly", "manually", "mostly", "naturally", "normally", "often", "partly", "previously",
    "promptly", "quickly", "quietly", "rarely", "readily", "recently", "regularly", "slowly",
    "steadily", "strictly", "typically", "usually",
};

inline constexpr std::string_view people[] = {
    "Ada Morgan", "Ben Carter", "Clara Hughes", "Daniel Ortiz", "Elena Fischer", "Farid Haddad",
    "Grace Lin", "Hugo Laurent", "Ines Duarte", "James Okafor", "Kaia Berg", "Liam Walsh",
    "Maya Patel", "Noah Schmidt", "Olivia Reyes", "Pavel Novak", "Quinn Foster", "Rosa Marino",
    "Samuel Kim", "Tara Nolan", "Umar Siddiqui", "Vera Kowalski", "William Grant", "Xenia Petrova",
    "Yusuf Demir", "Zoe Bennett", "Arjun Mehta", "Beatrix Vogel", "Carlos Mendes", "Dana Whitfield",
    "Emil Sorensen", "Fatima Rahman", "Gideon Price", "Hana Sato", "Ivan Horvat", "Julia Costa",
};

inline constexpr std::string_view places[] = {
    "Ashford", "Bramley", "Carrow", "Dunmore", "Eastwick", "Fairhaven", "Glenridge", "Harrowgate",
    "Ivybridge", "Juniper Bay", "Kingsbury", "Lakemont", "Millbrook", "Northfield", "Oakham",
    "Pinecrest", "Queensferry", "Riverton", "Stonebridge", "Thornbury", "Upton", "Valemont",
    "Westmere", "Yarrow", "Alder Point", "Beacon Hill", "Cedar Falls", "Driftwood", "Elmstead",
    "Foxley", "Greywater", "Hollins", "Kestrel Ridge", "Larkspur", "Marlow Cove", "Redcliff",
};

inline constexpr std::string_view tool_domains[] = {
    "weather", "travel", "finance", "calendar", "email", "shipping", "inventory", "recipes", "music",
    "movies", "maps", "hotels", "flights", "banking", "sports", "news", "health", "fitness", "jobs",
    "real estate", "translation", "education", "library", "restaurants", "events", "parking",
    "energy", "insurance", "payroll", "crm", "tickets", "garden", "pets", "cars", "books", "games",
    "podcasts", "charity", "pharmacy", "museums", "transit", "stocks", "currency", "social media",
};

/// Prose for documents and tool descriptions.
inline constexpr std::string_view prose_templates[] = {
    "The {A} {N} {Vs} the {N2} before the {A} {N} is {Ved}.",
    "In {Y}, {P} {Ved} a {A} {N} near {L} to {V} the {N2}.",
    "Each {N} {R} {Vs} a {A} {N2}, which keeps the {N} {A}.",
    "Most of the {Ns} in {L} were {Ved} by the {A} {N2}.",
    "{P} said that the {N} would {V} the {A} {N2} within {D} days.",
    "When the {N} is {A}, the {N2} {Vs} it {R}.",
    "The {N2} of {L} {Ved} {D} new {Ns} during the {A} season.",
    "A {A} {N} can {V} the {N2} only if the {N} is {Ved} first.",
    "Over the following {D} years the {A} {N} {R} {Ved} the {N2}.",
    "The committee {Ved} that every {N} should {V} a {A} {N2}.",
    "Because the {N} was {A}, {P} {Ved} the {N2} {R}.",
    "Records from {Y} show that the {N} {Ved} the {A} {N2} in {L}.",
    "The {A} {N2} {Vs} how the {N} {Vs} the {A} {N}.",
    "Visitors to {L} often {V} the {A} {N} and the old {N2}.",
    "After the {N} {Ved}, the {A} {N2} remained {A} for {D} months.",
    "{P} {R} {Ved} the {N2} and {Ved} a {A} {N}.",
    "The report {Vs} that a {A} {N} {Vs} about {D} percent of the {N2}.",
    "It is {A} to {V} the {N} before the {N2} {Vs} the {A} {N}.",
    "The {N} near {L} was {Ved} in {Y} and {Ved} again {D} years later.",
    "Local people {V} the {A} {N} whenever the {N2} is {Ved}.",
    "Nobody expected the {A} {N} to {V} the {N2} so {R}.",
    "The {A} {N} and the {A} {N2} {R} {V} each other.",
    "{P} and {P} {Ved} the {N} of {L} together.",
    "A second {N} was {Ved} to {V} the {A} {N2}.",
};

/// Sentences describing what a tool or parameter does.
inline constexpr std::string_view tool_templates[] = {
    "Use this tool to {V} a {A} {N} and {V} the related {N2}.",
    "The tool {Vs} the {N} that matches the given {N2} and returns its {A} fields.",
    "Results are sorted by {N} and limited to the {A} {N2}.",
    "If the {N} is not {Ved}, the tool returns an error with a {A} message.",
    "Call it before you {V} any {N2}, because the {N} may be {A}.",
    "The response {Vs} the {A} {N} together with the {N2} it {Ved}.",
    "Requests are {R} {Ved} and may take up to {D} seconds.",
    "Only a {A} {N} can be {Ved}; a {A} {N2} is rejected.",
    "This endpoint {Vs} at most {D} items per call.",
    "Prefer this tool when the user asks to {V} a {N} or a {N2}.",
    "The {N2} must be {Ved} with the {A} {N} first.",
    "Dates use the ISO format and times are given in UTC.",
};

/// Parameter descriptions.
inline constexpr std::string_view param_templates[] = {
    "The {N} to {V}.",
    "Identifier of the {A} {N2}.",
    "How many {Ns} to return, between 1 and {D}.",
    "Optional filter on the {A} {N}.",
    "Name of the {N2} the {N} belongs to.",
    "Whether to {V} {A} {Ns} as well.",
    "The {N2} in which to {V} the {N}.",
    "A {A} note added to the {N}.",
};

/// A short user request to a tool-using assistant.
inline constexpr std::string_view request_templates[] = {
    "Please {V} the {A} {N} for {P} in {L} and tell me when the {N2} will be {Ved}.",
    "Can you {V} a {N} near {L} and {V} the {A} {N2} for next week?",
    "I need to {V} the {N} that {P} {Ved}; also {V} the {N2}.",
    "Find the {A} {N} in {L} and {V} it to my {N2}.",
    "What is the {A} {N} for {L}? Then {V} the {N2} for {P}.",
    "Help me {V} {D} {Ns} and {V} the {A} {N2} before Friday.",
    "Could you check whether the {N} in {L} is {A} and {V} the {N2} if it is?",
    "{V} the {A} {N} for {P}, then {V} a {N2} about it.",
};

/// A question about a document.
inline constexpr std::string_view question_templates[] = {
    "According to the text, what did {P} do with the {A} {N}?",
    "Why was the {N} in {L} {Ved}?",
    "How many {Ns} did the {N2} {V}, and when?",
    "What happened to the {A} {N2} after the {N} was {Ved}?",
    "Which {N} does the document say {Vs} the {N2}?",
    "Summarize what the text says about the {A} {N} of {L}.",
    "What role did {P} play in the history of the {N}?",
    "When did the {N2} first {V} the {A} {N}, and why?",
    "Compare the {A} {N} with the {A} {N2} as the text describes them.",
    "What does the document say {Ved} the {N} in {Y}?",
};

/// The opening sentence of a programming problem.
inline constexpr std::string_view problem_templates[] = {
    "{P} manages {D} {Ns} in {L} and wants to {V} them so that every {N2} is {A}.",
    "There are n {Ns} in a row, and the i-th {N} has a value a_i.",
    "The city of {L} has n {Ns} connected by m roads.",
    "{P} is given a string s describing a {A} {N}.",
    "You are given an array of n integers that describe the {N} of a {A} {N2}.",
    "A {N} is called {A} if every {N2} in it can be {Ved} at most once.",
};

}  // namespace planetserve::workload::detail
