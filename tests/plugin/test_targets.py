"""The team's own code under test: `target:` functions, the wired clients, `promptopt.judge`.

Each test writes a small app module beside its suites (a name of its own, since pytester's
in-process runs share `sys.modules` handling) and reads what was recorded from the database.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.support.plugin import default_db, query, scalar, summary_lines, write_suite

APP = '''
import asyncio
import threading

ACTIVE = 0
PEAK = 0
LOCK = threading.Lock()


def answer(prompt, case, client):
    """Sync: looks the order up, then asks the model with it (returns the SDK Message)."""
    context = "Order 123 shipped on Monday." if "123" in case.input else "No order found."
    return client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=300,
        system=prompt + "\\n" + context,
        messages=case.messages,
    )


async def answer_async(prompt, case, client):
    """Async: awaits the model, post-processes its text."""
    message = await client.messages.create(
        model="claude-haiku-4-5", max_tokens=300, system=prompt, messages=case.messages
    )
    return message.content[0].text + " [checked by {mod}]"


def broken(prompt, case, client):
    raise KeyError("no such order")


def wrong_type(prompt, case, client):
    return 42


MEET = threading.Barrier(2, timeout=60)


def slow(prompt, case, client):
    """Sync, blocks until a second one runs beside it: records how many run at once."""
    global ACTIVE, PEAK
    with LOCK:
        ACTIVE += 1
        PEAK = max(PEAK, ACTIVE)
    MEET.wait()  # run one after the other, this breaks after its timeout: an item error
    with LOCK:
        ACTIVE -= 1
    with open("peak.txt", "w") as f:
        f.write(str(PEAK))
    return "Hello, how can I help you today?"
'''

PROMPT = "You are a polite support assistant for an online shop."


def write_app(pytester: pytest.Pytester, mod: str) -> None:
    """The app module `mod` and an ini that selects the simulator and puts it on sys.path."""
    pytester.makepyfile(**{mod: APP.replace("{mod}", mod)})
    pytester.makeini("[pytest]\npromptopt_model = simulated\npythonpath = .\n")


def suite_text(name: str, target: str, *cases: str, extra: str = "") -> str:
    """A suite whose cases are (id, input) pairs written as `id: input`."""
    rows = "\n".join(
        f'  - id: {c.split(":", 1)[0]}\n    input: "{c.split(":", 1)[1].strip()}"' for c in cases
    )
    return f'name: {name}\nprompt: "{PROMPT}"\ntarget: {target}\n{extra}cases:\n{rows}\n'


def test_sync_and_async_targets_are_judged_and_recorded(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-ant-test-TARGET-SECRET-7"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    write_app(pytester, "app_a")
    write_suite(pytester, "sync", suite_text("sync", "app_a:answer", "where: Where is order 123?"))
    write_suite(pytester, "asyn", suite_text("asyn", "app_a:answer_async", "hi: Hi there"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    db = default_db(pytester)
    systems = [
        json.loads(r[0])["system"]
        for r in query(db, "SELECT request FROM llm_calls WHERE role = 'target' ORDER BY id")
    ]
    # The sync target's own context reached the model; the async one sent the prompt as is.
    assert sorted(systems) == sorted([PROMPT + "\nOrder 123 shipped on Monday.", PROMPT])
    responses = dict(
        query(
            db,
            "SELECT c.case_key, e.model_response FROM evaluations e "
            "JOIN test_cases c ON c.id = e.test_case_id",
        )
    )
    assert responses["hi"].endswith("[checked by app_a]")  # the target's text, not the model's
    assert responses["where"]  # the Message's text
    lines = summary_lines(result)
    assert lines["sync"]["calls"] == "2" and lines["asyn"]["calls"] == "2"  # target + judge
    for path in (pytester.path / ".promptopt").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_target_calls_are_cached_then_replayed_with_no_network(pytester: pytest.Pytester) -> None:
    write_app(pytester, "app_b")
    write_suite(
        pytester,
        "shop",
        suite_text("shop", "app_b:answer", "a: Where is order 123?", "b: Can I pay by card?"),
    )
    first = pytester.runpytest("-p", "no:cacheprovider")
    first.assert_outcomes(passed=2)
    assert summary_lines(first)["shop"]["calls"] == "4"
    # Replay: no key, no call allowed; everything comes from llm_calls.
    again = pytester.runpytest("-p", "no:cacheprovider", "--promptopt-cache=replay")
    again.assert_outcomes(passed=2)
    line = summary_lines(again)["shop"]
    assert (line["calls"], line["hits"]) == ("0", "4")
    # A case never recorded is refused cleanly under replay: an item error naming the case.
    write_suite(
        pytester,
        "shop",
        suite_text("shop", "app_b:answer", "a: Where is order 123?", "c: A question never asked"),
    )
    refused = pytester.runpytest("-p", "no:cacheprovider", "--promptopt-cache=replay")
    refused.assert_outcomes(passed=1, errors=1)
    refused.stdout.fnmatch_lines(["*no recorded target response for shop[[]c[]]*"])


def test_a_target_that_raises_or_returns_junk_is_an_item_error(pytester: pytest.Pytester) -> None:
    write_app(pytester, "app_c")
    write_suite(pytester, "boom", suite_text("boom", "app_c:broken", "x: Hi"))
    write_suite(pytester, "junk", suite_text("junk", "app_c:wrong_type", "y: Hi"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*target app_c:broken raised KeyError: 'no such order'*",
            "*target app_c:wrong_type returned int;"
            " an answer is a str or an anthropic.types.Message*",
        ]
    )


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("no_such_module:answer", "*cannot import 'no_such_module:answer': ModuleNotFoundError*"),
        ("app_d:nothing", "*module 'app_d' has no function 'nothing'*"),
        ("app_d", "*target 'app_d' is not an import path; write `module:function`*"),
    ],
)
def test_a_missing_target_is_a_collection_error(
    pytester: pytest.Pytester, target: str, says: str
) -> None:
    write_app(pytester, "app_d")
    write_suite(pytester, "lost", suite_text("lost", target, "x: Hi"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*lost.promptopt.yaml*", says])


def test_a_target_cannot_take_turns(pytester: pytest.Pytester) -> None:
    write_app(pytester, "app_e")
    write_suite(
        pytester,
        "chat",
        f"""
        name: chat
        prompt: "{PROMPT}"
        target: app_e:answer
        cases:
          - id: two
            turns: ["Hi", "And now?"]
        """,
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*use `turns` or `user`, which a `target` cannot answer*messages*"]
    )


def test_sync_targets_run_side_by_side_off_the_event_loop(pytester: pytest.Pytester) -> None:
    write_app(pytester, "app_f")
    cases = [f"c{n}: Hello number {n}" for n in range(4)]
    write_suite(pytester, "slow", suite_text("slow", "app_f:slow", *cases))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    # Four sync targets that each block until another one runs were running at the same time.
    assert int((pytester.path / "peak.txt").read_text()) >= 2


def test_promptopt_judge_records_the_given_answer_with_judge_calls_only(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\npromptopt_model = simulated\n")
    pytester.makepyfile(
        test_own="""
        import pytest
        from pytest_promptopt import Case, Suite

        hi = Case(id="hi", input="Hello!", expected="Says hello and asks how it can help")
        suite = Suite(name="greeter", prompt="You greet people warmly.", threshold=0.5,
                      cases=[hi])

        def my_feature(text):
            return "Hello! Lovely to meet you, how can I help today?"

        def test_greeting(promptopt):
            result = promptopt.judge(suite, "hi", my_feature("Hello!"))
            assert result.passed, result.explain()
            assert result.samples[0].response.startswith("Hello! Lovely")

        def test_bad_answer_type(promptopt):
            with pytest.raises(Exception, match="promptopt.judge was given dict"):
                promptopt.judge(suite, "hi", {"text": "x"})
    """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    db = default_db(pytester)
    assert query(db, "SELECT role, COUNT(*) FROM llm_calls GROUP BY role") == [("judge", 1)]
    assert scalar(db, "SELECT model_response FROM evaluations") == (
        "Hello! Lovely to meet you, how can I help today?"
    )
    assert scalar(db, "SELECT COUNT(*) FROM test_cases WHERE case_key = 'hi'") == 1


def test_promptopt_client_is_cached_and_counted_against_max_calls(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\npromptopt_model = simulated\n")
    pytester.makepyfile(
        test_client=textwrap.dedent("""
        import asyncio

        import anthropic
        import pytest

        def ask(client, text):
            return client.messages.create(
                model="claude-haiku-4-5", max_tokens=100,
                messages=[{"role": "user", "content": text}],
            )

        def test_sync_client(promptopt):
            assert isinstance(promptopt.client, anthropic.Anthropic)
            assert ask(promptopt.client, "one").content[0].text
            assert ask(promptopt.client, "two").content[0].text
            with pytest.raises(anthropic.APIStatusError, match="max-calls"):
                ask(promptopt.client, "three")

        def test_async_client_from_the_tests_own_loop(promptopt):
            async def go():
                return await promptopt.async_client.messages.create(
                    model="claude-haiku-4-5", max_tokens=100,
                    messages=[{"role": "user", "content": "one"}],
                )
            assert isinstance(promptopt.async_client, anthropic.AsyncAnthropic)
            assert asyncio.run(go()).content[0].text  # "one" again: a cache hit, no call
    """)
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--promptopt-max-calls=2")
    result.assert_outcomes(passed=2)
    db = default_db(pytester)
    rows = query(db, "SELECT role, request FROM llm_calls ORDER BY id")
    assert [r[0] for r in rows] == ["target", "target"]
    assert [json.loads(r[1])["messages"][0]["content"] for r in rows] == ["one", "two"]


def test_optimize_sends_every_candidate_through_the_target(pytester: pytest.Pytester) -> None:
    write_app(pytester, "app_g")
    write_suite(
        pytester,
        "opt",
        suite_text(
            "opt",
            "app_g:answer",
            "a: Where is order 123?",
            "b: I want a refund",
            extra="description: Support assistant for an online shop.\n",
        ),
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--optimize")
    result.assert_outcomes(passed=2)
    db = default_db(pytester)
    systems = {
        json.loads(r[0])["system"].split("\n")[0]
        for r in query(db, "SELECT request FROM llm_calls WHERE role = 'target'")
    }
    candidates = {r[0].split("\n")[0] for r in query(db, "SELECT prompt_text FROM prompts")}
    assert PROMPT in systems
    assert len(systems) > 1  # generated candidates, not only the original, reached the target
    assert systems <= candidates | {PROMPT}


def test_a_python_suite_takes_a_callable_target_and_runs_under_xdist(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\npromptopt_model = simulated\n")
    pytester.makepyfile(
        test_py_target="""
        import pytest
        from pytest_promptopt import Case, CaseInput, Suite

        async def shout(prompt: str, case: CaseInput, client) -> str:
            message = await client.messages.create(
                model="claude-haiku-4-5", max_tokens=200, system=prompt,
                messages=case.messages,
            )
            return message.content[0].text.upper()

        suite = Suite(name="shouty", prompt="You greet people warmly.", target=shout,
                      threshold=0.0,
                      cases=[Case(id=f"c{n}", input=f"Hello {n}!") for n in range(4)])

        @pytest.mark.parametrize("case", suite.cases, ids=lambda c: c.id)
        def test_shout(promptopt, case):
            result = promptopt.evaluate(suite, case)
            assert result.error is None, result.error
            assert result.samples[0].response.isupper()
    """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=4)
    db = default_db(pytester)
    assert scalar(db, "SELECT COUNT(*) FROM llm_calls WHERE role = 'target'") == 4
    assert scalar(db, "SELECT COUNT(*) FROM evaluations") == 4


def test_a_sync_target_past_the_check_timeout_is_an_item_error(pytester: pytest.Pytester) -> None:
    # Issue 18, finding 11: sync targets had no timeout.
    from tests.support import stuckcode

    stuckcode.reset()
    write_app(pytester, "app_t")
    write_suite(
        pytester, "hung", suite_text("hung", "tests.support.stuckcode:stuck_target", "h: Hi")
    )
    write_suite(pytester, "fine", suite_text("fine", "app_t:answer", "f: Where is order 123?"))
    try:
        result = pytester.runpytest("-p", "no:cacheprovider", "--promptopt-check-timeout=2")
    finally:
        stuckcode.FREE.set()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*target tests.support.stuckcode:stuck_target did not return within 2 s*"]
    )
