from django.urls import path

from annotator.suggestions import views

app_name = "suggestions"
urlpatterns = [
    path("<int:project_id>/suggesters/", views.suggesters, name="suggesters"),
    path("<int:project_id>/suggesters/jobs/", views.job_list, name="jobs"),
    path("<int:project_id>/suggesters/jobs/<int:suggester_job_id>/cancel/", views.cancel, name="cancel_job"),
    path("<int:project_id>/suggesters/train/", views.train, name="train"),
    path("<int:project_id>/suggesters/preannotate/", views.preannotate, name="preannotate"),
    path("<int:project_id>/suggesters/<int:suggester_id>/activate/", views.activate, name="activate"),
    path("<int:project_id>/suggesters/pipeline/", views.pipeline, name="pipeline"),
    path("<int:project_id>/suggesters/labels/", views.label_map, name="label_map"),
    path("<int:project_id>/suggesters/learning/", views.learning_settings, name="learning"),
    path("<int:project_id>/gold/curate/", views.curate_gold, name="curate_gold"),
]
