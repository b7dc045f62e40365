from django.urls import path

from knowledge import views

urlpatterns = [
    path("incidents/<int:pk>/postmortem/", views.postmortem, name="postmortem"),
    path(
        "incidents/<int:pk>/postmortem/actions/",
        views.action_item_add,
        name="postmortem-action-add",
    ),
    path("incidents/<int:pk>/similar/", views.incident_similar, name="incident-similar"),
    path("knowledge/", views.knowledge_index, name="knowledge"),
    path("knowledge/similar/", views.similar_fragment, name="knowledge-similar"),
    path("knowledge/articles/<int:pk>/", views.article, name="article"),
    path("knowledge/articles/<int:pk>/edit/", views.article_edit, name="article-edit"),
    path("knowledge/articles/new/<int:incident_pk>/", views.article_new, name="article-new"),
    path("knowledge/actions/<int:item_id>/done/", views.action_item_done, name="action-done"),
    path("metrics/", views.metrics_page, name="metrics"),
    path("archive/export.csv", views.archive_csv, name="archive-csv"),
    path("archive/export.xlsx", views.archive_xlsx, name="archive-xlsx"),
]
