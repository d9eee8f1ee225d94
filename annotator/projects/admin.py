from django.contrib import admin

from annotator.projects.models import EntityType, GuidelineVersion, Membership, Project, RelationType


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


class EntityTypeInline(admin.TabularInline):
    model = EntityType
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "annotators_per_article", "allow_overlapping_spans", "created_at"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["created_by"]
    inlines = [MembershipInline, EntityTypeInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "user__email", "project__name"]
    raw_id_fields = ["user", "project"]


@admin.register(EntityType)
class EntityTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "key", "colour", "position"]
    list_filter = ["project"]
    search_fields = ["name", "description"]


@admin.register(RelationType)
class RelationTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "directed", "position"]
    list_filter = ["project", "directed"]
    search_fields = ["name", "description"]
    filter_horizontal = ["head_types", "tail_types"]


@admin.register(GuidelineVersion)
class GuidelineVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "number", "created_by", "created_at"]
    list_filter = ["project"]
    search_fields = ["text"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["created_at"]
