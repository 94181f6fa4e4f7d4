"""The Streamlit side of HireMate: what the recruiter pages (app_pages/)
share. Login and session (session.py), widgets and the one refusal handler
(ui.py), the task and issue forms, plotly charts, the live panel, the
account form and the security headers. The domain it calls is hiremate/;
nothing in hiremate/ imports this package."""
