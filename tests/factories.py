"""factory_boy factories for every model, in one place."""

import datetime

import factory
from django.contrib.auth import get_user_model

from agencies.choices import District, ServicePointKind, StaffRole
from agencies.models import PartnerBank, ServicePoint, Staff
from applicants.choices import EmployerKind, EnrolmentRoute, IdDocumentType, Insurance
from applicants.identity import compose_resident_id
from applicants.models import Applicant, Employer, Employment, InsuranceEnrolment, RegistryRecord


def resident_id(n: int, region: str = "310104", born: datetime.date | None = None) -> str:
    born = born or datetime.date(1980, 1, 1) + datetime.timedelta(days=n * 37 % 9000)
    return compose_resident_id(region, born, n % 1000)


def uscc_for(n: int) -> str:
    from stdnum.cn import uscc

    body = f"91310000{n:09d}"
    return body + uscc.calc_check_digit(body)


class PartnerBankFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerBank
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"BK{n:03d}")
    name_zh = factory.Sequence(lambda n: f"银行{n}")
    name_en = factory.Sequence(lambda n: f"Bank {n}")


class ServicePointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServicePoint

    code = factory.Sequence(lambda n: f"SP{n:04d}")
    name = factory.Sequence(lambda n: f"Service point {n}")
    kind = ServicePointKind.COMMUNITY_CENTER
    district = District.XUHUI
    address = "1 Test Road"
    bank = factory.Maybe(
        factory.LazyAttribute(lambda o: o.kind == ServicePointKind.BANK_OUTLET),
        yes_declaration=factory.SubFactory(PartnerBankFactory),
        no_declaration=None,
    )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")
    is_staff = True


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Staff

    user = factory.SubFactory(UserFactory)
    service_point = factory.SubFactory(ServicePointFactory)
    role = StaffRole.CLERK


class ApplicantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Applicant

    name = factory.Sequence(lambda n: f"张{n}")
    id_type = IdDocumentType.RESIDENT_ID
    id_number = factory.Sequence(resident_id)
    shanghai_hukou = True
    hukou_place = "上海市徐汇区"
    phone = "13800138000"
    address = "上海市徐汇区漕溪北路1号"


class EmployerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employer

    name = factory.Sequence(lambda n: f"Employer {n}")
    uscc = factory.Sequence(uscc_for)
    kind = EmployerKind.ENTERPRISE


class EmploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employment

    applicant = factory.SubFactory(ApplicantFactory)
    employer = factory.SubFactory(EmployerFactory)
    start_date = datetime.date(2024, 1, 1)
    registered_on = datetime.date(2024, 1, 10)


class EnrolmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InsuranceEnrolment

    applicant = factory.SubFactory(ApplicantFactory)
    insurance = Insurance.MEDICAL
    route = EnrolmentRoute.INDIVIDUAL
    employment = None
    start_date = datetime.date(2024, 1, 1)


class RegistryRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegistryRecord

    name = factory.Sequence(lambda n: f"张{n}")
    id_type = IdDocumentType.RESIDENT_ID
    id_number = factory.Sequence(resident_id)
    shanghai_hukou = True
    hukou_place = "上海市徐汇区"
