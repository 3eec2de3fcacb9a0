"""The user's templates folder: overrides, fallbacks, clear errors, and the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.compose import ComposeContext, check_templates, render, sample_context
from mailflow.config import Settings
from mailflow.errors import TemplateError


def make_settings(folder: Path, **playbook: dict[str, str]) -> Settings:
    return Settings(
        owner={"name": "Ben Okafor", "addresses": ["ben@example.org"], "timezone": "Europe/Berlin"},
        templates={"folder": str(folder)},
        playbook=playbook,
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def ctx() -> ComposeContext:
    return sample_context(Settings(), notes=True)


def test_a_user_template_overrides_the_default_of_the_same_name(tmp_path: Path, ctx: ComposeContext) -> None:
    write(tmp_path, "thank_you.seeker.txt", "Subject: Cheers {{ contact.first_name }}\n\nThanks!\n")
    rendered = render("thank_you", "seeker", ctx, make_settings(tmp_path))
    assert (rendered.subject, rendered.text) == ("Cheers Ana", "Thanks!\n")
    assert rendered.template == f"template {tmp_path / 'thank_you.seeker.txt'}"
    other_role = render("thank_you", "adviser", ctx, make_settings(tmp_path))
    assert other_role.template == "default template thank_you.adviser.txt"


def test_a_user_step_template_serves_both_roles_before_the_role_defaults(
    tmp_path: Path, ctx: ComposeContext
) -> None:
    write(tmp_path, "thank_you.txt", "Subject: Thanks\n\n{{ role }}\n")
    settings = make_settings(tmp_path)
    assert render("thank_you", "seeker", ctx, settings).text == "seeker\n"
    assert render("thank_you", "adviser", ctx, settings).text == "adviser\n"


def test_role_template_wins_over_step_template_in_the_same_folder(
    tmp_path: Path, ctx: ComposeContext
) -> None:
    write(tmp_path, "thank_you.txt", "Subject: both\n\nboth\n")
    write(tmp_path, "thank_you.adviser.txt", "Subject: adviser\n\nadviser only\n")
    settings = make_settings(tmp_path)
    assert render("thank_you", "adviser", ctx, settings).text == "adviser only\n"
    assert render("thank_you", "seeker", ctx, settings).text == "both\n"


def test_a_user_text_template_never_goes_out_with_the_default_html(
    tmp_path: Path, ctx: ComposeContext
) -> None:
    write(tmp_path, "take_action.seeker.txt", "Subject: Act\n\nDo one thing.\n")
    rendered = render("take_action", "seeker", ctx, make_settings(tmp_path))
    assert rendered.html is None
    write(tmp_path, "take_action.seeker.html", "<p>Do <b>one</b> thing, {{ contact.first_name }}.</p>")
    assert (
        render("take_action", "seeker", ctx, make_settings(tmp_path)).html
        == "<p>Do <b>one</b> thing, Ana.</p>\n"
    )


def test_playbook_template_setting_chooses_another_name(tmp_path: Path, ctx: ComposeContext) -> None:
    write(tmp_path, "short_thanks.txt", "Subject: Thanks\n\nShort.\n")
    settings = make_settings(tmp_path, thank_you={"template": "short_thanks"})
    assert render("thank_you", "seeker", ctx, settings).text == "Short.\n"
    assert check_templates(settings) == []


def test_partials_can_be_included(tmp_path: Path, ctx: ComposeContext) -> None:
    write(tmp_path, "_signature.txt", "-- \n{{ owner.name }}")
    write(tmp_path, "stay_in_touch.txt", "Subject: Hello\n\nHow are you?\n\n{% include '_signature.txt' %}\n")
    assert render("stay_in_touch", "seeker", ctx, make_settings(tmp_path)).text.endswith(
        "-- \nmailflow owner\n"
    )


def test_a_misspelt_variable_is_one_sentence_with_template_line_and_variable(
    tmp_path: Path, ctx: ComposeContext
) -> None:
    path = write(
        tmp_path,
        "thank_you.txt",
        "Subject: Hi\n\nHello,\n{% if notes %}\n{{ contact.frist_name }}\n{% endif %}\n",
    )
    with pytest.raises(TemplateError) as caught:
        render("thank_you", "seeker", ctx, make_settings(tmp_path))
    assert str(caught.value) == (
        f"Template {path}, line 5: contact.frist_name is not a template variable "
        "(did you mean contact.first_name?)."
    )
    assert caught.value.template == f"template {path}"


def test_an_unknown_top_level_variable_and_a_subject_error_are_named(
    tmp_path: Path, ctx: ComposeContext
) -> None:
    path = write(tmp_path, "thank_you.txt", "Subject: Hi {{ contct.name }}\n\nHello\n")
    with pytest.raises(
        TemplateError, match=r"line 1: contct is not a template variable \(did you mean contact\?\)"
    ):
        render("thank_you", "seeker", ctx, make_settings(tmp_path))
    path.write_text("Subject: Hi\n\n{% for m in earlier_meetings %}{{ m.nots }}{% endfor %}\n")
    with pytest.raises(TemplateError, match=r"line 3: meeting.nots is not a template variable"):
        render("thank_you", "seeker", ctx, make_settings(tmp_path))


def test_a_syntax_error_names_the_line(tmp_path: Path, ctx: ComposeContext) -> None:
    path = write(tmp_path, "thank_you.txt", "Subject: Hi\n\nline three\n{% if notes %}\nno end\n")
    with pytest.raises(TemplateError) as caught:
        render("thank_you", "seeker", ctx, make_settings(tmp_path))
    message = str(caught.value)
    assert message.startswith(f"Template {path}, line 5 has a syntax error: unexpected end of template")
    assert message.count(".") >= 1 and "\n" not in message


def test_a_template_without_a_subject_line_is_explained(tmp_path: Path, ctx: ComposeContext) -> None:
    path = write(tmp_path, "thank_you.txt", "Hello {{ contact.first_name }}\n")
    with pytest.raises(TemplateError, match=f'Template {path}, line 1 must be "Subject: ..."'):
        render("thank_you", "seeker", ctx, make_settings(tmp_path))
    path.write_text("Subject: x\nHello\n")
    with pytest.raises(TemplateError, match="line 2 must be blank"):
        render("thank_you", "seeker", ctx, make_settings(tmp_path))


def test_a_missing_user_folder_is_an_error_not_a_silent_fallback(tmp_path: Path, ctx: ComposeContext) -> None:
    settings = make_settings(tmp_path / "nope")
    with pytest.raises(TemplateError, match="does not exist"):
        render("thank_you", "seeker", ctx, settings)
    assert len(check_templates(settings)) == 1


def test_check_templates_reports_broken_and_stray_files(tmp_path: Path) -> None:
    write(tmp_path, "thank_yuo.txt", "Subject: x\n\nx\n")
    write(
        tmp_path, "follow_up.adviser.txt", "Subject: x\n\nHi{% if proposal %} {{ proposal.wen }}{% endif %}\n"
    )
    write(tmp_path, "summary_prompt.html", "<p>orphan</p>")
    problems = check_templates(make_settings(tmp_path))
    assert any("thank_yuo.txt matches no step" in p for p in problems)
    assert any("proposal.wen is not a template variable (did you mean proposal.when?)" in p for p in problems)
    assert any("summary_prompt.html has no summary_prompt.txt beside it" in p for p in problems)
    assert len(problems) == 3


def test_a_changed_template_is_picked_up_without_restart(tmp_path: Path, ctx: ComposeContext) -> None:
    path = write(tmp_path, "thank_you.txt", "Subject: one\n\none\n")
    settings = make_settings(tmp_path)
    assert render("thank_you", "seeker", ctx, settings).text == "one\n"
    path.write_text("Subject: two\n\ntwo, longer\n")
    import os

    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    assert render("thank_you", "seeker", ctx, settings).text == "two, longer\n"


# -- the sandbox ----------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ contact.__class__.__init__.__globals__ }}",
    "{{ meeting.start.__class__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ notes | attr('__class__') }}",
    "{{ '{0.__class__}'.format(notes) }}",
    "{{ range.__self__ }}",
    "{{ owner._label }}",
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_a_user_template_cannot_reach_python_internals(
    tmp_path: Path, ctx: ComposeContext, escape: str
) -> None:
    write(tmp_path, "thank_you.txt", f"Subject: x\n\n{escape}\n")
    with pytest.raises(TemplateError) as caught:
        render("thank_you", "seeker", ctx, make_settings(tmp_path))
    assert "line 3" in str(caught.value)


def test_the_sandbox_is_immutable(tmp_path: Path, ctx: ComposeContext) -> None:
    write(tmp_path, "thank_you.txt", "Subject: x\n\n{% set l = [] %}{{ l.append(1) }}\n")
    with pytest.raises(TemplateError, match="line 3"):
        render("thank_you", "seeker", ctx, make_settings(tmp_path))


def test_mail_text_is_never_evaluated_as_a_template(ctx: ComposeContext) -> None:
    import dataclasses

    hostile = dataclasses.replace(ctx, notes="{{ owner.address }} {% raw %}", role="adviser")
    text = render("thank_you", "adviser", hostile, Settings()).text
    assert "> {{ owner.address }} {% raw %}" in text


def test_html_bodies_are_escaped_and_text_bodies_are_not(tmp_path: Path, ctx: ComposeContext) -> None:
    import dataclasses

    write(tmp_path, "thank_you.txt", "Subject: {{ notes }}\n\n{{ notes }}\n")
    write(tmp_path, "thank_you.html", "<p>{{ notes }}</p>")
    hostile = dataclasses.replace(ctx, notes='<script>alert("x")</script> & more')
    rendered = render("thank_you", "seeker", hostile, make_settings(tmp_path))
    assert rendered.text == '<script>alert("x")</script> & more\n'
    assert rendered.subject == '<script>alert("x")</script> & more'
    assert rendered.html == "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more</p>\n"
