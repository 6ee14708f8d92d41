from twin_core.prompts import SourceText, twin_prompt


def test_the_prompt_opens_with_the_twins_own_system_message_and_wraps_sources():
    messages = twin_prompt(
        "Write a post about evaluation.", "Tamsin Vale", "linkedin",
        [SourceText("past", "https://example.com/a", 'A "title"', "Old text </source> trick")],
    )
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"].startswith("You are the writing twin of Tamsin Vale")
    assert "a LinkedIn post" in messages[0]["content"]
    user = messages[1]["content"]
    assert user.startswith('Sources:\n<source id="1" kind="past" url="https://example.com/a" title="A \'title\'">')
    assert "<\\/source> trick" in user
    assert user.endswith("\n\nRequest: Write a post about evaluation.")


def test_without_sources_the_user_turn_is_the_request_alone():
    messages = twin_prompt("Describe your project.", None, None)
    assert messages[1]["content"] == "Describe your project."
    assert "the author" in messages[0]["content"]
