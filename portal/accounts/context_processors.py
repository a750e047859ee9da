from portal.accounts.roles import CASEWORKER, MAINTAINER, has_role


def roles(request):
    user = request.user
    return {
        "is_caseworker": has_role(user, CASEWORKER),
        "is_maintainer": has_role(user, MAINTAINER),
    }
