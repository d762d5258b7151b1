"""Blueprints, one module per area."""


def register_blueprints(app):
    from . import account, admin, api, auth, clock_offsets, deployments, events, jobs, members, projects, thumbnails

    app.register_blueprint(auth.bp)
    app.register_blueprint(projects.bp)
    app.register_blueprint(deployments.bp)
    app.register_blueprint(clock_offsets.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(thumbnails.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(members.bp)
    app.register_blueprint(account.bp)
