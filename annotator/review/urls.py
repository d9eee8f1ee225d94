from django.urls import path

from annotator.review import comments, curation_views, views

app_name = "review"
urlpatterns = [
    path("articles/<int:article_id>/annotate/", views.annotate, name="annotate"),
    path("articles/<int:article_id>/annotate/workspace/", views.workspace, name="workspace"),
    path("articles/<int:article_id>/annotate/blocks/", views.blocks, name="blocks"),
    path("articles/<int:article_id>/annotate/filter/", views.filtered_blocks, name="filtered_blocks"),
    path("articles/<int:article_id>/annotate/suggesting/", views.suggesting, name="suggesting"),
    path("articles/<int:article_id>/annotate/do/<slug:action>/", views.act, name="act"),
    path("articles/<int:article_id>/annotate/undo/", views.undo_last, name="undo"),
    path("articles/<int:article_id>/annotate/submit/", views.submit_and_next, name="submit"),
    path("articles/<int:article_id>/annotate/reopen/", views.reopen, name="reopen"),
    path("articles/<int:article_id>/annotate/candidates/", views.candidates, name="candidates"),
    path("articles/<int:article_id>/annotate/attributes/", views.attributes, name="attributes"),
    path("articles/<int:article_id>/annotate/relation-types/", views.relation_types, name="relation_types"),
    path("articles/<int:article_id>/annotate/new-kb-entity/", views.new_kb_entity, name="new_kb_entity"),
    path("articles/<int:article_id>/curate/", curation_views.curate, name="curate"),
    path("articles/<int:article_id>/curate/take/", curation_views.take, name="take"),
    path("articles/<int:article_id>/curate/take-agreed/", curation_views.take_agreed, name="take_agreed"),
    path("articles/<int:article_id>/curate/finish/", curation_views.finish, name="finish_gold"),
    path("articles/<int:article_id>/history/", curation_views.history, name="history"),
    path("articles/<int:article_id>/comments/", comments.comment, name="comment"),
    path("projects/<int:project_id>/next/", views.next_in_queue, name="next"),
]
