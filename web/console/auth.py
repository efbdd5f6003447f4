"""Signing in to the console and out again."""

from __future__ import annotations

import time

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from models.errors import LoginThrottled
from models.staff import PASSWORD_MAX, USERNAME_MAX
from services import staff
from web.console.access import SEEN, SIGNED_IN, ConsoleUser, _safe_next, bp


class LoginForm(FlaskForm):
    username = StringField(validators=[InputRequired(), Length(max=USERNAME_MAX)])
    password = PasswordField(validators=[InputRequired(), Length(max=PASSWORD_MAX)])


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    target = _safe_next(request.args.get("next")) or url_for("console.home")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target)
    status, error = 200, None
    if form.validate_on_submit():
        try:
            user = staff.authenticate(
                form.username.data, form.password.data, request.remote_addr or ""
            )
        except LoginThrottled as e:
            minutes = max(1, -(-int(e.params.get("retry_after_s", 60)) // 60))
            error = gettext("密码错误次数过多，请 %(minutes)s 分钟后再试。", minutes=minutes)
            status = 429
        else:
            if user is None:
                error, status = gettext("用户名或密码不正确。"), 401
            else:
                # A new session at sign-in: nothing from before it (a planted session id,
                # another person's state) carries over.
                session.clear()
                login_user(ConsoleUser.of(user))
                session[SEEN] = session[SIGNED_IN] = int(time.time())
                return redirect(target)
    elif request.method == "POST":
        error, status = gettext("请填写用户名和密码后重试。"), 400
    return render_template("console/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash(gettext("已退出登录。"), "info")
    return redirect(url_for("console.login"))
